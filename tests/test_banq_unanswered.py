"""Unknown is not unpaid (issue 21): while banq can't answer, nothing is cancelled or expired.

The reproductions of the issue, against the real banq emulator and its faults. Each time banq
holds a completed payment whose webhook was lost; banq then errors, is slow or can't be reached
while the store is asked to cancel or expire the order, twice within the look-up interval. The
order must end paid, never cancelled, expired or failed, and the shopper is never told of a
refund or an expiry.
"""

from __future__ import annotations

import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from banq.models import BanqPayment
from banq.services import payment_link_generate
from orders.models import Order, OrderEvent
from orders.services import EndResult, order_cancel
from tests.admin.conftest import ORDERS_URL, messages_of
from tests.factories import order_create, product_create
from tests.support.shopper import Shopper

pytestmark = pytest.mark.integration

ERRORING = {"error_rate": 1.0, "error_routes": ["get-payment", "get-transaction"]}


def _paid_at_banq(banq_emulator, **order) -> tuple[Order, BanqPayment]:
    """An order whose payment banq completed; its webhook was lost (no store is registered at
    banq, and every delivery is dropped)."""
    banq_emulator.set_faults(drop_deliveries=1.0)
    order = order_create(**order)
    attempt = payment_link_generate(order=order)
    banq_emulator.complete(attempt.banq_payment_id)
    return order, attempt


def _never_ended(order: Order) -> None:
    """The order was never cancelled, expired or failed, and nobody was told of a refund."""
    ended = OrderEvent.objects.filter(
        order=order, to_status__in=[Order.Status.CANCELLED, Order.Status.EXPIRED, "failed"]
    )
    assert list(ended.values_list("to_status", "source")) == []
    assert not OrderEvent.objects.filter(
        order=order, kind=OrderEvent.Kind.EMAIL, data__email="refund_due"
    ).exists()


@pytest.mark.django_db
def test_admin_cancel_twice_while_banq_errors_never_cancels_a_paid_order(
    emulator_settings, banq_emulator, admin_client
):
    order, _ = _paid_at_banq(banq_emulator)
    banq_emulator.set_faults(**ERRORING)

    told = []
    for _ in range(2):  # the second within the look-up interval of the first
        answer = admin_client.post(
            ORDERS_URL,
            {"action": "cancel_orders", "_selected_action": [order.pk]},
            follow=True,
        )
        order.refresh_from_db()
        assert order.status == Order.Status.AWAITING_PAYMENT
        told.append(" ".join(messages_of(answer)))
    assert all("banq can't be reached right now" in text for text in told), told

    banq_emulator.set_faults(error_rate=0.0)
    answer = admin_client.post(
        ORDERS_URL, {"action": "cancel_orders", "_selected_action": [order.pk]}, follow=True
    )

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert "a completed payment was found" in " ".join(messages_of(answer))
    _never_ended(order)


@pytest.mark.django_db
def test_expiry_twice_while_banq_errors_never_expires_a_paid_order(
    emulator_settings, banq_emulator
):
    order, _ = _paid_at_banq(banq_emulator)
    Order.objects.filter(pk=order.pk).update(
        created_at=timezone.now() - timezone.timedelta(hours=2)
    )
    banq_emulator.set_faults(**ERRORING)

    told = []
    for _ in range(2):
        out = StringIO()
        call_command("expire_orders", stdout=out)
        order.refresh_from_db()
        assert order.status == Order.Status.AWAITING_PAYMENT
        told.append(out.getvalue())
    assert all("0 order(s) expired." in text for text in told), told
    assert all("banq can't be reached right now" in text for text in told), told

    banq_emulator.set_faults(error_rate=0.0)
    call_command("expire_orders", stdout=StringIO())

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    _never_ended(order)


@pytest.mark.django_db(transaction=True)
def test_cancel_while_the_shoppers_confirm_waits_on_a_slow_banq_finds_the_payment(
    emulator_store, banq_emulator
):
    banq_emulator.set_faults(drop_deliveries=1.0)
    shopper = Shopper(emulator_store.url)
    public_id, _ = shopper.place_order(product_create())
    order = Order.objects.get(public_id=public_id)
    attempt = payment_link_generate(order=order)
    banq_emulator.complete(attempt.banq_payment_id)
    banq_emulator.set_faults(latency_ms=2500)
    confirmed: dict = {}
    confirm = threading.Thread(target=lambda: confirmed.update(shopper.confirm(public_id).json()))
    confirm.start()
    time.sleep(0.5)  # the confirm is waiting on banq now

    result = order_cancel(order=order, source=OrderEvent.Source.ADMIN, actor="merchant")
    confirm.join(20)

    assert result == EndResult.PAID
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert (confirmed["status"], confirmed["refund_due"]) == ("paid", False)
    assert shopper.status(public_id)["refund_due"] is False
    _never_ended(order)
