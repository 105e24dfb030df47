"""URLs of the alert tests: the store's, plus a view that fails while holding every secret a
request and the store can hold (in its local variables, its exception and a log line)."""

import logging

from django.conf import settings
from django.urls import path

from storefront.urls import urlpatterns as store_urlpatterns

logger = logging.getLogger("banq.alert_test")

ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGVydC10ZXN0In0.c2lnbmF0dXJlLW9mLWEtand0"


def fails_with_secrets(request, token):
    password = settings.BANQ_PASSWORD
    client_id = settings.BANQ_CLIENT_ID
    webhook_token = token
    access_token = ACCESS_TOKEN
    session_key = request.session.session_key
    csrf = request.COOKIES.get("csrftoken")
    key = request.GET.get("key")
    logger.warning(
        "about to fail: %s %s %s %s %s %s", password, client_id, access_token, key, csrf, token
    )
    raise RuntimeError(
        f"banq refused {client_id}/{password} with {access_token} for {webhook_token} "
        f"(session {session_key}, csrf {csrf}, key {key})"
    )


urlpatterns = [
    path("webhooks/banq/<str:token>/fails/", fails_with_secrets),
    *store_urlpatterns,
]
