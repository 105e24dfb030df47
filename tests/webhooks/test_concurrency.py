"""20 concurrent deliveries of one event: one transition, one e-mail, one signal, one push.

Real threads and real commits (``transaction=True``); CI also runs this on PostgreSQL.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.test import Client

from orders.models import Order
from orders.signals import order_paid
from tests.support.banq_api import add_payment, payment_payload, webhook_notification_payload
from tests.webhooks.support import GroupListener, order_with_attempt, post_event
from webhooks.models import WebhookEvent

DELIVERIES = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_deliveries_apply_the_payment_once(banq_api, mailoutbox, run_tasks):
    order, _ = order_with_attempt()
    add_payment(
        banq_api,
        payment_payload(status="completed", funds=order.total, external_order_code=order.number),
    )
    listener = GroupListener(order)
    signals: list[int] = []
    lock = threading.Lock()

    def on_paid(sender, order, **kwargs):
        with lock:
            signals.append(order.pk)

    order_paid.connect(on_paid)
    body = webhook_notification_payload(event_id="evt-concurrent")
    start = threading.Barrier(DELIVERIES)
    statuses: list[int] = []
    answers: list[str] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            client = Client()
            start.wait(timeout=30)
            response = post_event(client, body)
            with lock:
                statuses.append(response.status_code)
                answers.append(response.json().get("status", ""))
        except BaseException as exc:  # surfaced below
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(DELIVERIES)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        run_tasks()  # the worker's part: the e-mail and the signals left through the outbox
    finally:
        order_paid.disconnect(on_paid)

    assert errors == []
    assert statuses == [200] * DELIVERIES
    assert sorted(answers) == ["duplicate"] * (DELIVERIES - 1) + ["processed"]
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert WebhookEvent.objects.count() == DELIVERIES
    assert WebhookEvent.objects.filter(state="processed").count() == 1
    assert WebhookEvent.objects.exclude(processed_key=None).count() == 1
    assert len(mailoutbox) == 1
    assert signals == [order.pk]
    assert [m["status"] for m in listener.messages()] == ["paid"]


@pytest.mark.django_db(transaction=True)
def test_an_event_settled_by_another_run_meanwhile_keeps_that_runs_answer(
    banq_api, monkeypatch, run_tasks, mailoutbox
):
    """Between this run's re-fetch and its write, another run (the worker, the admin) settled the
    event: this run's work is rolled back and the other run's answer stands."""
    from webhooks import services

    order, _ = order_with_attempt()
    add_payment(
        banq_api,
        payment_payload(status="completed", funds=order.total, external_order_code=order.number),
    )
    fetch = services._fetch

    def fetch_then_another_run_settles(event, notification, **kwargs):
        fetched = fetch(event, notification, **kwargs)
        WebhookEvent.objects.filter(pk=event.pk).update(
            state=WebhookEvent.State.DUPLICATE, error="Settled by the other run."
        )
        return fetched

    monkeypatch.setattr(services, "_fetch", fetch_then_another_run_settles)

    response = post_event(Client(), webhook_notification_payload(event_id="evt-raced"))

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.state, event.error) == (WebhookEvent.State.DUPLICATE, "Settled by the other run.")
    assert event.processed_key is None
    assert event.order_id is None
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT  # this run's payment was rolled back
    assert not order.history.filter(kind="paid").exists()
    assert run_tasks() == 0
    assert mailoutbox == []
