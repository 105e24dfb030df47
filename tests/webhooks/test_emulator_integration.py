"""End to end: the real client creates a payment at the emulator, the emulator completes it and
delivers the webhook to the real store (daphne), and the order becomes paid."""

from __future__ import annotations

import pytest
from django.urls import reverse

from banq.client import get_banq_client
from banq.models import BanqPayment
from orders.models import Order
from tests.factories import order_create
from tests.support.live_store import emulator_store_env
from tests.support.wait import wait_for
from webhooks.models import WebhookEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TOKEN = "integration-webhook-token-5f1e2d3c4b5a69788796a5b4"


@pytest.fixture
def live_store_env(banq_emulator, emulator_settings):
    return emulator_store_env(banq_emulator, emulator_settings, TOKEN)


def test_emulator_completion_reaches_the_store_and_pays_the_order(
    banq_emulator, emulator_settings, live_store_env, live_store
):
    order = order_create(total="42.50", status=Order.Status.AWAITING_PAYMENT)
    link = get_banq_client().create_payment_link(
        order_code=order.number, funds=order.total, comment=f"Order {order.number}"
    )
    assert link.payment_id
    BanqPayment.objects.create(
        order=order, banq_payment_id=link.payment_id, url=link.url, funds=order.total
    )
    webhook = live_store.url + reverse("webhooks:banq", kwargs={"token": TOKEN})
    banq_emulator.set_webhook_config(webhook)

    banq_emulator.complete(link.payment_id)

    def paid():
        order.refresh_from_db()
        return order.status == Order.Status.PAID

    wait_for(paid, timeout=15, interval=0.1, what="the emulator's webhook paid the order")
    deliveries = banq_emulator.wait_for_deliveries(1, timeout=15)
    assert deliveries
    assert order.payment_reference == link.payment_id
    processed = WebhookEvent.objects.filter(state=WebhookEvent.State.PROCESSED)
    assert processed.count() == 1
    assert processed.get().order_id == order.pk


def test_emulator_failure_fails_the_order(
    banq_emulator, emulator_settings, live_store_env, live_store
):
    order = order_create(total="10.00", status=Order.Status.AWAITING_PAYMENT)
    link = get_banq_client().create_payment_link(
        order_code=order.number, funds=order.total, comment=f"Order {order.number}"
    )
    BanqPayment.objects.create(
        order=order, banq_payment_id=link.payment_id, url=link.url, funds=order.total
    )
    banq_emulator.set_webhook_config(
        live_store.url + reverse("webhooks:banq", kwargs={"token": TOKEN})
    )

    banq_emulator.fail(link.payment_id, "InsufficientBalance")

    def failed():
        order.refresh_from_db()
        return order.status == Order.Status.FAILED

    wait_for(failed, timeout=15, interval=0.1, what="the emulator's webhook failed the order")
    attempt = BanqPayment.objects.get(order=order)
    assert attempt.fail_reason == "InsufficientBalance"
