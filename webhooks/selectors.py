"""Reads of the webhooks app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Sum
from django.utils import timezone

from webhooks.models import WebhookEvent, WebhookRefusal

# Refused banq-looking calls, with nothing accepted since, from this many on mean a stale URL.
STALE_URL_MIN_REFUSALS = 3


def webhook_refusals_recent(days: int = 7) -> list[WebhookRefusal]:
    """Wrong-token counters of the last ``days`` days (today included), newest first."""
    since = timezone.localdate() - timedelta(days=max(days, 1) - 1)
    return list(WebhookRefusal.objects.filter(day__gte=since).order_by("-day"))


@dataclass(frozen=True)
class RefusalSummary:
    refused: int  # every wrong-token call in the window
    banq_like: int  # those whose body was a banq event
    banq_like_last_at: datetime | None
    last_accepted_at: datetime | None  # the newest event received with the right token

    @property
    def stale_url_suspected(self) -> bool:
        """banq keeps calling with another token, and nothing has come in the right way since:
        its webhook config points at a stale URL. Scanners and single stray calls don't count."""
        if self.banq_like < STALE_URL_MIN_REFUSALS or self.banq_like_last_at is None:
            return False
        return self.last_accepted_at is None or self.banq_like_last_at > self.last_accepted_at


def webhook_refusal_summary(*, days: int = 7) -> RefusalSummary:
    """What ``banq_check`` and the admin say about refused webhook calls."""
    since = timezone.localdate() - timedelta(days=max(days, 1) - 1)
    totals = WebhookRefusal.objects.filter(day__gte=since).aggregate(
        refused=Sum("count"), banq_like=Sum("banq_like"), last=Max("banq_like_last_at")
    )
    last_accepted = WebhookEvent.objects.aggregate(last=Max("received_at"))["last"]
    return RefusalSummary(
        refused=int(totals["refused"] or 0),
        banq_like=int(totals["banq_like"] or 0),
        banq_like_last_at=totals["last"],
        last_accepted_at=last_accepted,
    )
