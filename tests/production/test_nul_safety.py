"""Data from banq that PostgreSQL refuses (NUL, lone surrogates) is stored safely and the payment
still applied; an event that keeps failing for a reason retrying can't fix becomes `dead`.

Run on both CI legs: SQLite takes anything, PostgreSQL raised DataError on these payloads.
"""

from __future__ import annotations

import pytest
import responses
from django.core.management import CommandError, call_command
from django.db import DataError

from banq.models import BanqPayment
from banq.payloads import MAX_STORED_DEPTH, TOO_DEEP, jsonable, loads
from orders.admin_selectors import order_needs_attention_q
from orders.models import Order, OrderFlag
from tests.support.banq_api import (
    PAYMENT_ID,
    add_payment,
    banq_api_url,
    json_body,
    payment_payload,
)
from tests.webhooks.support import order_with_attempt, post_event
from webhooks.models import WebhookEvent
from webhooks.services import DEAD_AFTER_ATTEMPTS, webhook_event_process_claimed
from webhooks.templatetags.storefront_admin import admin_summary

pytestmark = pytest.mark.django_db

State = WebhookEvent.State
UNSTORABLE = "Mug \x00 with a lone \ud800 surrogate"


def test_a_payment_whose_text_postgresql_refuses_is_still_verified_and_applied(banq_api, client):
    order, _ = order_with_attempt(total="19.99")
    add_payment(
        banq_api,
        payment_payload(status="completed", external_order_code=order.number, comment=UNSTORABLE),
    )

    response = post_event(client)

    assert response.status_code == 200, response.content
    assert response.json() == {"status": "processed"}
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    attempt = BanqPayment.objects.get(banq_payment_id=PAYMENT_ID)
    assert attempt.last_payload["comment"] == "Mug \ufffd with a lone \ufffd surrogate"


def test_a_failure_reason_with_nul_is_stored_and_the_order_failed(banq_api, client):
    order, _ = order_with_attempt(total="19.99")
    add_payment(
        banq_api,
        payment_payload(
            status="failed", external_order_code=order.number, fail_reason="Insufficient\x00Funds"
        ),
    )

    response = post_event(
        client, {"action": "failed", "resourceType": "Payment", "resourceId": PAYMENT_ID}
    )

    assert response.status_code == 200, response.content
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED
    attempt = BanqPayment.objects.get(banq_payment_id=PAYMENT_ID)
    assert attempt.fail_reason == "Insufficient\ufffdFunds"


def test_nan_and_deep_nesting_in_banqs_answer_are_stored_as_text(banq_api, client):
    order, _ = order_with_attempt(total="19.99")
    deep: object = "bottom"
    for _ in range(MAX_STORED_DEPTH + 10):
        deep = [deep]
    body = payment_payload(status="completed", external_order_code=order.number, extra=deep)
    # A bare NaN: not JSON, but what a careless encoder writes (and Python's decoder reads).
    text = json_body(body).replace('"comment"', '"ratio": NaN, "comment"')
    banq_api.add(
        responses.GET,
        banq_api_url(f"/payments/{PAYMENT_ID}"),
        body=text,
        content_type="application/json",
    )

    assert post_event(client).json() == {"status": "processed"}

    payload = BanqPayment.objects.get(banq_payment_id=PAYMENT_ID).last_payload
    assert payload["ratio"] == "NaN"
    nested = payload["extra"]
    for _ in range(MAX_STORED_DEPTH - 2):
        nested = nested[0]
    assert TOO_DEEP in repr(nested)


def test_storable_copies():
    assert loads(b'{"a\\u0000": "b\\ud800"}') == {"a\ufffd": "b\ufffd"}
    assert jsonable({"x": float("inf"), "y": "\x00"}) == {"x": "inf", "y": "\ufffd"}


def _failing_event(client, banq_api, monkeypatch) -> tuple[Order, WebhookEvent]:
    """An event whose processing fails every time for a reason retrying can't fix."""
    order, _ = order_with_attempt(total="19.99")
    add_payment(banq_api, payment_payload(status="completed", external_order_code=order.number))

    def refused(**kwargs):
        raise DataError("unsupported Unicode escape sequence")

    monkeypatch.setattr("webhooks.services.payment_apply", refused)
    assert post_event(client).status_code == 503  # banq retries, and so does the worker
    return order, WebhookEvent.objects.get()


def test_an_event_that_keeps_failing_becomes_dead_and_stops_failing_process_webhooks(
    client, banq_api, monkeypatch, capsys
):
    order, event = _failing_event(client, banq_api, monkeypatch)

    for attempt in range(2, DEAD_AFTER_ATTEMPTS):
        with pytest.raises(CommandError, match="still pending or failed"):
            call_command("process_webhooks")
        event.refresh_from_db()
        assert (event.state, event.attempts) == (State.FAILED, attempt)
    call_command("process_webhooks")  # the last attempt: given up, and not an error
    event.refresh_from_db()

    assert event.state == State.DEAD
    assert event.attempts == DEAD_AFTER_ATTEMPTS
    assert event.next_attempt_at is None
    assert "Gave up after 8 attempts" in event.error
    assert "need attention" in capsys.readouterr().err
    call_command("process_webhooks")  # dead events are left alone: exit 0
    event.refresh_from_db()
    assert event.attempts == DEAD_AFTER_ATTEMPTS
    # Visible where the merchant looks: the order needs attention, the admin index counts it.
    assert Order.objects.filter(order_needs_attention_q(), pk=order.pk).exists()
    assert order.flags.filter(kind=OrderFlag.Kind.NOTIFICATION_FAILED).exists()
    dead_line = next(line for line in admin_summary() if "dead" in line.label)
    assert (dead_line.value, dead_line.alert) == ("1", True)
    assert "state__exact=dead" in dead_line.url


def test_the_worker_gives_up_on_it_too(client, banq_api, monkeypatch):
    _, event = _failing_event(client, banq_api, monkeypatch)

    for _ in range(DEAD_AFTER_ATTEMPTS + 3):
        webhook_event_process_claimed(pk=event.pk)
    event.refresh_from_db()

    assert event.state == State.DEAD
    from webhooks.tasks import events_due

    assert event.pk not in events_due()


def test_a_dead_event_is_reprocessed_on_request_once_fixed(client, banq_api, monkeypatch):
    order, event = _failing_event(client, banq_api, monkeypatch)
    WebhookEvent.objects.filter(pk=event.pk).update(state=State.DEAD, attempts=DEAD_AFTER_ATTEMPTS)
    monkeypatch.undo()  # the cause is fixed (a new release, say)

    call_command("process_webhooks", "--state", "dead")

    event.refresh_from_db()
    assert event.state == State.PROCESSED
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
