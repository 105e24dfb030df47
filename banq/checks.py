"""System checks for the banq configuration (run by ``manage.py check`` and at server start).

Messages name the setting, never its value. In ``emulator`` mode the defaults pass.
"""

from __future__ import annotations

from django.core.checks import Error, Tags, Warning, register

from banq.exceptions import BanqConfigError
from banq.settings import ENVIRONMENTS, REQUIRED_CREDENTIALS, TOKEN_FIELD_STYLES, banq_settings

MIN_WEBHOOK_TOKEN_LENGTH = 24


def _credential_errors(config) -> list:
    """What sandbox and production need that the emulator's defaults give otherwise."""
    environment = config.environment
    messages = [
        Error(
            f"{name} is not set (required when BANQ_ENVIRONMENT={environment}).",
            hint=f"Set {name} to the value banq gave you.",
            id="banq.E002",
        )
        for name in config.missing(REQUIRED_CREDENTIALS)
    ]
    for name in config.missing(("BANQ_TOKEN_URL", "BANQ_API_URL")):
        messages.append(Error(f"{name} is not set.", id="banq.E002"))
    if environment == "production" and not config.widget_url:
        messages.append(
            Error(
                "BANQ_WIDGET_URL is not set (required in production: banq publishes no "
                "production widget URL).",
                hint="Ask banq for the production ecommerce.js URL.",
                id="banq.E003",
            )
        )
    # DJANGO_SECRET_KEY and DJANGO_DEBUG: storefront/checks.py (banq.E004 moved there).
    return messages


@register(Tags.security, deploy=False)
def banq_settings_check(app_configs=None, **kwargs) -> list:
    messages: list = []
    try:
        config = banq_settings()
    except BanqConfigError as exc:
        return [Error(str(exc), id="banq.E006")]
    environment = config.environment
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
        messages += _credential_errors(config)
    webhook_token = config.webhook_token
    if webhook_token and len(webhook_token) < MIN_WEBHOOK_TOKEN_LENGTH:
        messages.append(
            Warning(
                f"BANQ_WEBHOOK_TOKEN is shorter than {MIN_WEBHOOK_TOKEN_LENGTH} characters; "
                "the webhook URL is then guessable.",
                hint="Use e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'.",
                id="banq.W001",
            )
        )

    if config.token_field_style not in TOKEN_FIELD_STYLES:
        messages.append(
            Error(
                "BANQ_TOKEN_FIELD_STYLE must be 'username' or 'client_username'.",
                id="banq.E005",
            )
        )
    if "once" not in config.frequencies:
        messages.append(
            Warning("BANQ_FREQUENCIES does not include 'once' (used by checkout).", id="banq.W002")
        )
    return messages
