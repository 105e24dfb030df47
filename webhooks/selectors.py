"""Reads of the webhooks app."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from webhooks.models import WebhookRefusal


def webhook_refusals_recent(days: int = 7) -> list[WebhookRefusal]:
    """Wrong-token counters of the last ``days`` days (today included), newest first.

    Used by ``banq_check`` and the admin to say "banq is calling a stale webhook URL".
    """
    since = timezone.localdate() - timedelta(days=max(days, 1) - 1)
    return list(WebhookRefusal.objects.filter(day__gte=since).order_by("-day"))
