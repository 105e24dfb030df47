from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from django.views.static import serve

from storefront.csp import CspReportView


@require_safe
@cache_control(public=True, max_age=86400)
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``: browsers ask for it on pages without an icon link (the admin, errors)."""
    return HttpResponse(Path(str(finders.find("favicon.ico"))).read_bytes(), "image/x-icon")


@require_safe
@cache_control(public=True, max_age=86400)
def media(request: HttpRequest, path: str) -> HttpResponse:
    """An uploaded file under ``MEDIA_ROOT`` (a product photo: never changed, a new upload gets a
    new name), when the store serves media itself (``MEDIA_SERVE``)."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("webhooks/", include("webhooks.urls")),
    path("favicon.ico", favicon, name="favicon"),
    # Browsers' Content-Security-Policy violation reports. /healthz, /readyz and /metrics are
    # answered before the URLs are looked at (storefront.ops.OpsEndpointsMiddleware).
    path("csp-report/", CspReportView.as_view(), name="csp-report"),
    path("", include("banq.urls")),
    path("", include("orders.urls")),
]

if settings.MEDIA_SERVE and settings.MEDIA_URL.startswith("/"):
    # Uploaded product photos, in development (make run, the tests); in production nginx's
    # `location /media/` serves MEDIA_ROOT (deploy/nginx/storefront.conf), or the S3 bucket does.
    urlpatterns.append(
        re_path(
            rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.*)$",
            media,
            name="media",
        )
    )

handler400 = "storefront.errors.error_400"
handler403 = "storefront.errors.error_403"
handler404 = "storefront.errors.error_404"
handler500 = "storefront.errors.error_500"
