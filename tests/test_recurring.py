"""Recurring plans end to end: the real store (daphne), the real task worker and the real banq
emulator, over real sockets. The shopper buys a monthly plan and pays its link; the emulator
charges the next installments (on request, or on its fast clock), each with its Transaction
webhook; the store records each once, pushes it to the open page and e-mails a receipt."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from orders.models import Installment, Order, OrderEvent, OrderFlag, Subscription
from tests.factories import membership_create
from tests.support.shopper import Shopper, open_socket
from tests.support.wait import receive_until, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def store(emulator_store):
    return emulator_store


@pytest.fixture
def worker(emulator_worker):
    return emulator_worker


def buy_plan(store, banq_emulator, **product) -> tuple[Shopper, str, str]:
    """The shopper buys the plan and approves its first payment in the banq app. Returns the
    shopper, the order's public id and banq's payment id."""
    shopper = Shopper(store.url)
    public_id, page = shopper.place_order(membership_create(**product))
    assert "Your plan" in page
    link = shopper.payment_link(public_id)
    assert link.status_code == 200, f"{link.text}\n{store.output()[-3000:]}"
    code = link.json()["data"]["url"].rsplit("/", 1)[1]
    assert requests.post(f"{banq_emulator.url}/app/approve/{code}", timeout=10).status_code == 200
    wait_for(lambda: shopper.status(public_id)["paid"], timeout=10, what="the order paid")
    order = Order.objects.get(public_id=public_id)
    return shopper, public_id, order.payment_reference


def rows(public_id: str) -> list[tuple[int, str, str]]:
    return list(
        Installment.objects.filter(subscription__order__public_id=public_id)
        .order_by("number", "pk")
        .values_list("number", "status", "transaction_id")
    )


def sent(public_id: str, kind: str) -> int:
    return OrderEvent.objects.filter(
        order__public_id=public_id, kind=OrderEvent.Kind.EMAIL, data__email__startswith=kind
    ).count()


async def payload_with(ws, count: int, timeout: float) -> dict:
    """The next pushed payload listing ``count`` installments."""
    return await receive_until(
        ws,
        lambda message: len(message.get("installments") or []) >= count,
        timeout=timeout,
        what=f"a payload with {count} installments",
    )


def test_a_monthly_plan_records_each_installment_once_live_with_a_receipt(
    store, worker, banq_emulator
):
    shopper, public_id, payment_id = buy_plan(store, banq_emulator)
    body = shopper.status(public_id)
    assert body["status"] == "paid"
    assert [(i["number"], i["status"]) for i in body["installments"]] == [(1, "paid")]
    assert body["plan"]["live"] is True

    async def two_more_installments() -> list[dict]:
        async with open_socket(shopper, public_id) as ws:
            await payload_with(ws, 1, timeout=5)  # the page's current state, at connect
            banq_emulator.next_installment(payment_id)
            second = await payload_with(ws, 2, timeout=10)
            banq_emulator.next_installment(payment_id)
            third = await payload_with(ws, 3, timeout=10)
            return [second, third]

    second, third = asyncio.run(two_more_installments())

    assert [i["number"] for i in third["installments"]] == [1, 2, 3]
    assert third["installments"][2]["text"].startswith("Payment 3 of 12: $9.90 paid on ")
    assert second["plan"]["next_number"] == 3
    assert third["plan"]["next_number"] == 4
    assert third["status"] == "paid"
    emulated = banq_emulator.payment(payment_id)
    assert rows(public_id) == [
        (n, "paid", guid) for n, guid in enumerate(t["guid"] for t in emulated["transactions"])
    ]
    order = Order.objects.get(public_id=public_id)
    assert order.history.filter(kind=OrderEvent.Kind.PAID).count() == 1
    wait_for(lambda: sent(public_id, "installment_paid") == 2, timeout=15, what="two receipts")
    assert sent(public_id, "paid") == 1  # the order's confirmation: once
    assert order.status == Order.Status.PAID


def test_duplicate_and_out_of_order_deliveries_and_a_failure_then_a_success(
    store, worker, banq_emulator
):
    banq_emulator.set_faults(duplicate_deliveries=1, out_of_order=True)
    shopper, public_id, payment_id = buy_plan(store, banq_emulator)

    banq_emulator.next_installment(payment_id, fail=True, reason="InsufficientBalance")
    banq_emulator.next_installment(payment_id)
    wait_for(lambda: len(rows(public_id)) == 3, timeout=15, what="three installments recorded")
    banq_emulator.wait_for_deliveries(8, timeout=15)  # every copy of every event delivered

    emulated = [t["guid"] for t in banq_emulator.payment(payment_id)["transactions"]]
    assert rows(public_id) == [
        (0, "paid", emulated[0]),
        (1, "failed", emulated[1]),
        (2, "paid", emulated[2]),
    ]
    order = Order.objects.get(public_id=public_id)
    flag = order.flags.get(kind=OrderFlag.Kind.INSTALLMENT_FAILED)
    assert flag.reference == emulated[1]
    failed = Installment.objects.get(transaction_id=emulated[1])
    assert failed.fail_text == "Your banq account doesn't have enough balance for this payment."
    wait_for(
        lambda: (
            sent(public_id, "installment_failed") == 1 and sent(public_id, "installment_paid") == 1
        ),
        timeout=15,
        what="the failure e-mail and one receipt",
    )
    reasons = [i["reason"] for i in shopper.status(public_id)["installments"]]
    assert reasons == [None, failed.fail_text, None]


def test_the_fast_clock_runs_a_plan_to_its_end_date_and_nothing_comes_after(
    store, worker, banq_emulator
):
    # Monthly until an end date 65 days away: due today, in one month and in two, no more.
    end = timezone.localdate() + timedelta(days=65)
    _, public_id, payment_id = buy_plan(store, banq_emulator, periods=None, plan_end_date=end)
    subscription = Subscription.objects.get(order__public_id=public_id)
    assert subscription.plan.count == 3
    recurrence = banq_emulator.payment(payment_id)["recurrence"]
    assert recurrence["endDate"] == subscription.plan.last_due.isoformat()

    banq_emulator.set_installment_clock(0.3)
    try:
        wait_for(
            lambda: Subscription.objects.filter(
                order__public_id=public_id, state=Subscription.State.ENDED
            ).exists(),
            timeout=20,
            what="the plan ended",
        )
    finally:
        banq_emulator.set_installment_clock(None)

    with pytest.raises(AssertionError, match="schedule_ended"):
        banq_emulator.next_installment(payment_id)
    assert [(n, status) for n, status, _ in rows(public_id)] == [
        (0, "paid"),
        (1, "paid"),
        (2, "paid"),
    ]
    subscription = Subscription.objects.get(order__public_id=public_id)
    assert (subscription.next_number, subscription.next_due_date) == (None, None)
    assert not OrderFlag.objects.filter(order__public_id=public_id).exists()
