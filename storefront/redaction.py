"""Keeping secrets out of text: the one module that masks and redacts.

- ``redact(text, secrets)``: hides the webhook token in ``/webhooks/banq/<token>/...`` paths, the
  value of signed order-link keys (``?key=...``), bearer tokens (``Bearer ...``) and JWTs (banq's
  access tokens), and every literal secret given;
- ``mask(secret)``: the printable form of a secret (its first 4 characters and an ellipsis);
- ``mask_webhook_url(url, token)``: a webhook URL fit to print.

Used by the log filter (every log line), daphne's access log, the banq client's error messages,
the operator commands, and error alerts (Sentry events and ADMINS mail: ``storefront.alerts``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "<redacted>"
MASK_KEEP = 4
MIN_SECRET_LENGTH = 4
_WEBHOOK_TOKEN = re.compile(r"(/webhooks/banq/)([^/?#\s\"']+)")
_ACCESS_KEY = re.compile(r"([?&]key=)[^&#\s\"']+")
_BEARER = re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with URL-borne secrets and each of ``secrets`` replaced by ``<redacted>``."""
    text = _WEBHOOK_TOKEN.sub(rf"\1{REDACTED}", text)
    text = _ACCESS_KEY.sub(rf"\1{REDACTED}", text)
    text = _BEARER.sub(rf"\1{REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def mask(value: str | None) -> str:
    """``abcd…`` for a secret: its first 4 characters (none when it is short) and an ellipsis."""
    if not value:
        return "(none)"
    if len(value) < 12:
        return "…"
    return value[:MASK_KEEP] + "…"


def mask_webhook_url(url: str | None, *, token: str | None = None) -> str:
    """``url`` fit to print: a webhook path's token segment and ``token`` wherever it appears are
    replaced by their masked form."""
    if not url:
        return "(none)"
    masked = _WEBHOOK_TOKEN.sub(lambda m: m.group(1) + mask(m.group(2)), url)
    if token and len(token) >= MIN_SECRET_LENGTH:
        masked = masked.replace(token, mask(token))
    return masked
