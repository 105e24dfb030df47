"""How the shop writes a moment for a shopper: "6 Dec 2026, 06:32 UTC", in the store's time zone
(``TIME_ZONE``) and naming it, the same on the page and in its live updates (the status payload's
``paid_at_display``; its ``paid_at`` stays ISO 8601 for programs)."""

from __future__ import annotations

from datetime import datetime

from django.utils.dateformat import format as date_format
from django.utils.timezone import localtime

MOMENT_FORMAT = "j M Y, H:i T"


def format_moment(value: datetime | None) -> str:
    """``value`` in the store's time zone, as ``6 Dec 2026, 06:32 UTC``; empty for None."""
    if value is None:
        return ""
    return date_format(localtime(value), MOMENT_FORMAT)
