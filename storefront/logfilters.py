"""A last line of defence for secrets in logs, attached to every handler in settings.LOGGING.

Code already avoids logging secrets; this filter also catches what third-party code writes, such
as Django's request logger printing the path of a failed request, which for the webhook carries
the token. It rewrites the formatted message (``storefront.redaction.redact``) with the configured
secrets: the webhook token, banq's client id and password, Django's secret key, the metrics token,
the mail and database passwords.
"""

from __future__ import annotations

import logging

from storefront.redaction import redact

_SECRET_SETTINGS = (
    "BANQ_WEBHOOK_TOKEN",
    "BANQ_PASSWORD",
    "BANQ_CLIENT_ID",
    "SECRET_KEY",
    "METRICS_TOKEN",
    "EMAIL_HOST_PASSWORD",
    "AWS_SECRET_ACCESS_KEY",
)


def configured_secrets() -> tuple[str, ...]:
    """The secrets the store is configured with (settings above, the database's password): what
    every log line, error report and alert is cleaned of."""
    try:
        from django.conf import settings

        found = [str(getattr(settings, name, "") or "") for name in _SECRET_SETTINGS]
        found += [str(db.get("PASSWORD") or "") for db in settings.DATABASES.values()]
        return tuple(found)
    except Exception:  # settings not configured (yet): patterns only
        return ()


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        secrets = configured_secrets()
        cleaned = redact(message, secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
