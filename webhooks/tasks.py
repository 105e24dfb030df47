"""Background work of the webhooks app, run by ``manage.py worker``.

- ``webhook_event_retry``: finish one event the request could not (banq unreachable within the
  request's budget, no order yet, an unexpected error); enqueued by the webhook view.
- ``webhooks_retry_due`` (periodic): every event still waiting whose next attempt is due (backoff
  10 s, 20 s, ... up to an hour), and events stuck in ``received`` (their request died).

Each event is claimed in the database first (``webhook_event_process_claimed``), so several
workers, ``process_webhooks`` and the admin never process one event at the same time.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from storefront import metrics
from webhooks.models import WebhookEvent
from webhooks.services import webhook_event_process_claimed

logger = logging.getLogger(__name__)

State = WebhookEvent.State
RETRY_BATCH = 50
# A `received` event younger than this is probably being processed by its request right now.
RECEIVED_GRACE = timedelta(minutes=2)


def events_due(*, limit: int = RETRY_BATCH) -> list[int]:
    """Ids of the events the worker should process now, oldest first."""
    now = timezone.now()
    waiting = Q(state__in=WebhookEvent.RETRYABLE_STATES) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    stuck = Q(state=State.RECEIVED, received_at__lte=now - RECEIVED_GRACE)
    return list(
        WebhookEvent.objects.filter(waiting | stuck)
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


@task()
def webhook_event_retry(event_id: int) -> str:
    event = webhook_event_process_claimed(pk=event_id)
    if event is not None:
        metrics.WEBHOOKS.labels(outcome=event.state, via="retry").inc()
    return event.state if event is not None else "claimed elsewhere"


@task()
def webhooks_retry_due() -> str:
    states: dict[str, int] = {}
    for pk in events_due():
        event = webhook_event_process_claimed(pk=pk)
        if event is not None:
            states[event.state] = states.get(event.state, 0) + 1
            metrics.WEBHOOKS.labels(outcome=event.state, via="retry").inc()
    return ", ".join(f"{state} {count}" for state, count in sorted(states.items())) or "nothing due"
