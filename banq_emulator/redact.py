"""Keep the store's webhook token out of what the emulator shows: logs, state, pages.

The store's webhook URL carries its secret in the path, `/webhooks/banq/<token>/...`. The full URL
is kept for deliveries (and the control API's `GET webhook-config`); everything shown to a person
gets `mask_url` / `mask_text`: the first 4 characters of the token and an ellipsis.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"(/webhooks/banq/)([^/?#\s'\"<>]+)")
SHOWN = 4


def _mask(match: re.Match[str]) -> str:
    token = match.group(2)
    if token.endswith("\u2026"):
        return match.group(0)  # masked already
    shown = min(SHOWN, len(token) // 2)  # a short token is never shown whole
    return f"{match.group(1)}{token[:shown]}\u2026"


def mask_text(text: str) -> str:
    """Text with every `/webhooks/banq/<token>` shortened to its first 4 characters and `…`."""
    if "/webhooks/banq/" not in text:
        return text
    return _TOKEN.sub(_mask, text)


mask_url = mask_text
