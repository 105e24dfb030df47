"""manage.py process_webhooks: stored events go through the live path again."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from orders.models import Order
from tests.factories import order_create
from tests.support.banq_api import (
    PAYMENT_ID,
    add_json,
    add_payment,
    payment_payload,
    webhook_notification_payload,
)
from tests.webhooks.support import order_with_attempt, post_event
from webhooks.models import WebhookEvent
from webhooks.services import webhook_event_record

pytestmark = pytest.mark.django_db

State = WebhookEvent.State


def stored_event(state=State.PENDING, body=None) -> WebhookEvent:
    event = webhook_event_record(body=json.dumps(body or webhook_notification_payload()).encode())
    WebhookEvent.objects.filter(pk=event.pk).update(state=state)
    event.refresh_from_db()
    return event


def test_event_before_the_order_exists_is_applied_by_the_retry(
    banq_api, client, capsys, django_capture_on_commit_callbacks, mailoutbox, run_tasks
):
    add_payment(banq_api, payment_payload(status="completed", external_order_code="SF-LATE-1"))
    first = post_event(client)
    assert first.status_code == 503
    assert WebhookEvent.objects.get().state == State.UNMATCHED

    order = order_create(number="SF-LATE-1", total="19.99", status=Order.Status.AWAITING_PAYMENT)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("process_webhooks")
    run_tasks()

    event = WebhookEvent.objects.get()
    assert event.state == State.PROCESSED
    assert event.attempts == 2
    assert event.order_id == order.pk
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert len(mailoutbox) == 1
    out = capsys.readouterr().out
    assert "unmatched -> processed" in out
    assert "1 event(s) reprocessed: processed 1." in out


def test_banq_still_down_exits_non_zero_and_keeps_the_event_pending(banq_api, settings):
    settings.BANQ_RETRIES = 0
    event = stored_event(State.PENDING)
    add_json(banq_api, "GET", f"/payments/{PAYMENT_ID}", {"error": "down"}, status=503)

    with pytest.raises(CommandError, match="still pending or failed"):
        call_command("process_webhooks")

    event.refresh_from_db()
    assert event.state == State.PENDING
    assert event.attempts == 1


def test_settled_and_invalid_events_are_left_alone_by_default(banq_api):
    stored_event(State.PROCESSED)
    stored_event(State.INVALID)
    stored_event(State.DUPLICATE)

    call_command("process_webhooks")

    assert len(banq_api.calls) == 0
    assert sorted(WebhookEvent.objects.values_list("attempts", flat=True)) == [0, 0, 0]


def test_an_invalid_event_is_reprocessed_when_named_by_id(client):
    post_event(client, b"{broken")
    event = WebhookEvent.objects.get()

    call_command("process_webhooks", "--id", str(event.pk))

    event.refresh_from_db()
    assert event.state == State.INVALID
    assert event.attempts == 2


def test_state_option_selects_events(banq_api):
    order, _ = order_with_attempt()
    add_payment(
        banq_api,
        payment_payload(status="completed", funds=order.total, external_order_code=order.number),
    )
    failed = stored_event(State.FAILED)
    unmatched = stored_event(State.UNMATCHED)

    call_command("process_webhooks", "--state", "failed")

    failed.refresh_from_db()
    unmatched.refresh_from_db()
    assert failed.state == State.PROCESSED
    assert unmatched.state == State.UNMATCHED
    assert unmatched.attempts == 0


def test_limit_and_unknown_state(banq_api):
    with pytest.raises(CommandError, match="Unknown state"):
        call_command("process_webhooks", "--state", "bogus")
    with pytest.raises(CommandError, match="--limit"):
        call_command("process_webhooks", "--limit", "0")


def test_an_event_another_run_holds_is_skipped(capsys):
    event = stored_event(State.PENDING)
    # Another worker, command or admin action claimed it (in the database, for every process).
    WebhookEvent.objects.filter(pk=event.pk).update(
        claimed_until=timezone.now() + timedelta(minutes=1)
    )

    call_command("process_webhooks")

    event.refresh_from_db()
    assert event.attempts == 0
    assert "1 skipped" in capsys.readouterr().out
