"""System checks for the banq configuration (run by ``manage.py check`` and at server start).

Messages name the setting, never its value. In ``emulator`` mode the defaults pass.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

ENVIRONMENTS = ("emulator", "sandbox", "production")
REQUIRED_CREDENTIALS = (
    "BANQ_CLIENT_ID",
    "BANQ_USERNAME",
    "BANQ_PASSWORD",
    "BANQ_MERCHANT_GUID",
    "BANQ_ACCOUNT_SPACE_ID",
    "BANQ_WEBHOOK_TOKEN",
)
MIN_WEBHOOK_TOKEN_LENGTH = 24
TOKEN_FIELD_STYLES = ("username", "client_username")


def _blank(name: str) -> bool:
    value = getattr(settings, name, "")
    return value is None or (isinstance(value, str) and not value.strip())


@register(Tags.security, deploy=False)
def banq_settings_check(app_configs=None, **kwargs) -> list:
    messages: list = []
    environment = str(getattr(settings, "BANQ_ENVIRONMENT", "emulator") or "").strip().lower()
    if environment not in ENVIRONMENTS:
        messages.append(
            Error(
                "BANQ_ENVIRONMENT must be one of: emulator, sandbox, production.",
                hint="Set BANQ_ENVIRONMENT in the environment or .env.",
                id="banq.E001",
            )
        )
        return messages

    if environment != "emulator":
        for name in REQUIRED_CREDENTIALS:
            if _blank(name):
                messages.append(
                    Error(
                        f"{name} is not set (required when BANQ_ENVIRONMENT={environment}).",
                        hint=f"Set {name} to the value banq gave you.",
                        id="banq.E002",
                    )
                )
        for name in ("BANQ_TOKEN_URL", "BANQ_API_URL"):
            if _blank(name):
                messages.append(Error(f"{name} is not set.", id="banq.E002"))
        if environment == "production" and _blank("BANQ_WIDGET_URL"):
            messages.append(
                Error(
                    "BANQ_WIDGET_URL is not set (required in production: banq publishes no "
                    "production widget URL).",
                    hint="Ask banq for the production ecommerce.js URL.",
                    id="banq.E003",
                )
            )
        if getattr(settings, "USING_DEV_SECRET_KEY", False):
            messages.append(
                Error(
                    "DJANGO_SECRET_KEY is the development key, which is not allowed outside the "
                    "emulator.",
                    hint="Set DJANGO_SECRET_KEY to a long random value.",
                    id="banq.E004",
                )
            )

    webhook_token = getattr(settings, "BANQ_WEBHOOK_TOKEN", "") or ""
    if webhook_token and len(webhook_token) < MIN_WEBHOOK_TOKEN_LENGTH:
        messages.append(
            Warning(
                f"BANQ_WEBHOOK_TOKEN is shorter than {MIN_WEBHOOK_TOKEN_LENGTH} characters; "
                "the webhook URL is then guessable.",
                hint="Use e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'.",
                id="banq.W001",
            )
        )

    style = getattr(settings, "BANQ_TOKEN_FIELD_STYLE", "username")
    if style not in TOKEN_FIELD_STYLES:
        messages.append(
            Error(
                "BANQ_TOKEN_FIELD_STYLE must be 'username' or 'client_username'.",
                id="banq.E005",
            )
        )
    frequencies = list(getattr(settings, "BANQ_FREQUENCIES", []) or [])
    if "once" not in frequencies:
        messages.append(
            Warning("BANQ_FREQUENCIES does not include 'once' (used by checkout).", id="banq.W002")
        )
    return messages
