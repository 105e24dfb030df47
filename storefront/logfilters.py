"""A last line of defence for secrets in logs, attached to every handler in settings.LOGGING.

Code already avoids logging secrets; this filter also catches what third-party code writes, such
as Django's request logger printing the path of a failed request, which for the webhook carries
the token. It rewrites the formatted message, hiding the webhook path token, signed-link keys and
the literal values of the configured banq secrets.
"""

from __future__ import annotations

import logging
import re

_WEBHOOK_TOKEN = re.compile(r"(/webhooks/banq/)[^/?\s\"']+")
_ACCESS_KEY = re.compile(r"([?&]key=)[^&\s\"']+")
_SECRET_SETTINGS = ("BANQ_WEBHOOK_TOKEN", "BANQ_PASSWORD", "BANQ_CLIENT_ID", "SECRET_KEY")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    text = _ACCESS_KEY.sub(r"\1<redacted>", _WEBHOOK_TOKEN.sub(r"\1<redacted>", text))
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "<redacted>")
    return text


def _configured_secrets() -> tuple[str, ...]:
    try:
        from django.conf import settings

        return tuple(str(getattr(settings, name, "") or "") for name in _SECRET_SETTINGS)
    except Exception:  # settings not configured (yet): patterns only
        return ()


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message, _configured_secrets())
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, _configured_secrets())
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
