from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("webhooks/", include("webhooks.urls")),
    path("", include("banq.urls")),
    path("", include("orders.urls")),
]

handler400 = "orders.views.error_400"
handler403 = "orders.views.error_403"
handler404 = "orders.views.error_404"
handler500 = "orders.views.error_500"
