"""System checks for what takes real money safely: DEBUG, the secret key, the trusted proxies,
the e-mail backend, the admin's second factor, the metrics settings and where media go.

Run by ``manage.py check``, by every management command that checks (``migrate``, ``worker``)
and by ``python -m storefront.serve`` before it listens: the store and the worker refuse to start
while one of these errors stands. Emulator mode (``BANQ_ENVIRONMENT=emulator``) is a development
setup: DEBUG is allowed there, and the key is this checkout's own (``.run/secret-key``).
Messages name settings, never their values.
"""

from __future__ import annotations

import ipaddress
import os

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

KEY_HINT = 'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(50))"'
MIN_METRICS_TOKEN_LENGTH = 24


def _emulated() -> bool:
    return str(getattr(settings, "BANQ_ENVIRONMENT", "emulator")).strip().lower() == "emulator"


@register(Tags.security)
def storefront_safety_check(app_configs=None, **kwargs) -> list:
    messages: list = []
    environment = getattr(settings, "BANQ_ENVIRONMENT", "emulator")
    source = getattr(settings, "SECRET_KEY_SOURCE", "environment")
    if not _emulated():
        if settings.DEBUG:
            messages.append(
                Error(
                    f"DJANGO_DEBUG is on with BANQ_ENVIRONMENT={environment}: error pages would "
                    "show code, settings and data to anyone.",
                    hint="Set DJANGO_DEBUG=false (DEBUG is for emulator mode only).",
                    id="storefront.E001",
                )
            )
        if source == "missing":
            messages.append(
                Error(
                    f"DJANGO_SECRET_KEY is not set (required when BANQ_ENVIRONMENT={environment}).",
                    hint=KEY_HINT,
                    id="storefront.E002",
                )
            )
    if source == "public":
        public = (
            "DJANGO_SECRET_KEY is a value published with this project (anyone could sign a "
            "session or an order link with it), so it is not used"
        )
        if _emulated():
            messages.append(
                Warning(
                    f"{public}: this checkout's own key is.", hint=KEY_HINT, id="storefront.W003"
                )
            )
        else:
            messages.append(Error(f"{public}.", hint=KEY_HINT, id="storefront.E003"))
    if source == "throwaway":
        messages.append(
            Warning(
                f"{settings.SECRET_KEY_FILE} could not be written: each process uses its own "
                "key, so sessions and order links do not survive a restart.",
                hint="Make the checkout's .run/ directory writable, or set DJANGO_SECRET_KEY.",
                id="storefront.W004",
            )
        )
    for network in getattr(settings, "TRUSTED_PROXY_NETWORKS", ()):
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            messages.append(
                Error(
                    f"DJANGO_TRUSTED_PROXIES: {network[:60]!r} is neither a number of proxies "
                    "nor an IP network.",
                    hint="Use e.g. 1 (nginx on the same host) or 127.0.0.1/32,10.0.0.0/8.",
                    id="storefront.E005",
                )
            )
    return messages


# Backends that never deliver an e-mail but print it, or write it to a file, order link and all.
LEAKING_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend": "prints every e-mail to the console",
    "django.core.mail.backends.filebased.EmailBackend": "writes every e-mail to a file",
}
EMAIL_HINT = (
    "Set EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587, or EMAIL_BACKEND to a "
    "backend that delivers e-mail."
)


@register(Tags.security)
def storefront_email_check(app_configs=None, **kwargs) -> list:
    """Outside emulator mode the shoppers' e-mails (with their signed order links) must be
    delivered: EMAIL_URL or EMAIL_BACKEND is required, and the console and file backends are
    refused, so neither `check --deploy` nor the store nor the worker starts with them."""
    if _emulated():
        return []
    environment = getattr(settings, "BANQ_ENVIRONMENT", "emulator")
    if not getattr(settings, "EMAIL_CONFIGURED", True):
        return [
            Error(
                f"EMAIL_URL is not set (required when BANQ_ENVIRONMENT={environment}): the "
                "shoppers' e-mails, with their signed order links, would be printed to the "
                "console.",
                hint=EMAIL_HINT,
                id="storefront.E008",
            )
        ]
    leak = LEAKING_EMAIL_BACKENDS.get(getattr(settings, "EMAIL_BACKEND", ""))
    if leak:
        return [
            Error(
                f"The e-mail backend {leak} instead of sending it (BANQ_ENVIRONMENT="
                f"{environment}): the shoppers' e-mails, with their signed order links, would "
                "end up there.",
                hint=EMAIL_HINT,
                id="storefront.E009",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def storefront_deploy_check(app_configs=None, **kwargs) -> list:
    """``check --deploy``: what an operator relaxed that a shop taking real money should not."""
    messages: list = []
    if not _emulated() and not getattr(settings, "ADMIN_REQUIRE_2FA", True):
        messages.append(
            Warning(
                "ADMIN_REQUIRE_2FA is off: staff can sign in to the admin, which cancels orders "
                "and records refunds, with a password alone.",
                hint="Remove ADMIN_REQUIRE_2FA=false (staff then set up an authenticator app).",
                id="storefront.W006",
            )
        )
    token = str(getattr(settings, "METRICS_TOKEN", "") or "")
    if token and len(token) < MIN_METRICS_TOKEN_LENGTH:
        messages.append(
            Warning(
                f"METRICS_TOKEN is shorter than {MIN_METRICS_TOKEN_LENGTH} characters.",
                hint=KEY_HINT,
                id="storefront.W007",
            )
        )
    return messages


@register(Tags.compatibility)
def storefront_operations_check(app_configs=None, **kwargs) -> list:
    """The metrics settings can be used as they are."""
    messages: list = []
    for network in getattr(settings, "METRICS_ALLOWED_NETWORKS", ()) or ():
        try:
            ipaddress.ip_network(network.strip(), strict=False)
        except ValueError:
            messages.append(
                Error(
                    f"METRICS_ALLOWED_NETWORKS: {network[:60]!r} is not an IP network.",
                    hint="Use e.g. 127.0.0.1/32,10.0.0.0/8.",
                    id="storefront.E006",
                )
            )
    directory = str(getattr(settings, "PROMETHEUS_MULTIPROC_DIR", "") or "")
    if directory and not (os.path.isdir(directory) and os.access(directory, os.W_OK)):
        messages.append(
            Error(
                f"PROMETHEUS_MULTIPROC_DIR ({directory}) is not a writable directory.",
                hint="Create it for the store's user, and empty it when every process has stopped.",
                id="storefront.E007",
            )
        )
    return messages


@register(Tags.compatibility)
def storefront_media_check(app_configs=None, **kwargs) -> list:
    """Product photos have somewhere to go: MEDIA_STORAGE is ``files`` or ``s3``, and ``s3``
    names its bucket."""
    storage = str(getattr(settings, "MEDIA_STORAGE", "files"))
    if storage not in ("files", "s3"):
        return [
            Error(
                f"MEDIA_STORAGE is {storage[:20]!r}: it must be files or s3.",
                hint="Leave it unset for files under MEDIA_ROOT.",
                id="storefront.E020",
            )
        ]
    if storage == "s3" and not getattr(settings, "AWS_STORAGE_BUCKET_NAME", ""):
        return [
            Error(
                "MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.",
                hint="Set the bucket, and AWS_S3_ENDPOINT_URL for a store other than AWS S3.",
                id="storefront.E021",
            )
        ]
    return []
