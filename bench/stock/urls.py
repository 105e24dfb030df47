from django.http import JsonResponse
from django.urls import path


def bare(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("stock/bare", bare)]
