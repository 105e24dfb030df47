from django.http import JsonResponse
from django.urls import include, path


def bare(request):
    return JsonResponse({"ok": True})


urlpatterns = [
    path("_bench/bare", bare),
    path("", include("storefront.urls")),
]
