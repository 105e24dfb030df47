from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("webhooks/", include("webhooks.urls")),
    path("", include("banq.urls")),
    path("", include("orders.urls")),
]

handler400 = "storefront.errors.error_400"
handler403 = "storefront.errors.error_403"
handler404 = "storefront.errors.error_404"
handler500 = "storefront.errors.error_500"
