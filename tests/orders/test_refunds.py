"""Refunds the merchant records: checked against what was paid, under the order's lock, through
the payment provider; a history line and one e-mail each; the "refund due" flags they settle."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from banq.provider import NO_REFUND_API, BanqProvider
from orders.exceptions import RefundError
from orders.models import Installment, Order, OrderEvent, OrderFlag, Refund
from orders.notifications import order_status_display, order_status_payload
from orders.services.refunds import order_refund_record, order_refundables
from tests.factories import order_create, recurring_order_create

pytestmark = pytest.mark.django_db


def paid_order(total: str = "20.00", **kw) -> Order:
    kw.setdefault("status", Order.Status.PAID)
    return order_create(total=total, paid_at=timezone.now(), payment_reference="pay-1", **kw)


def record(order: Order, amount: str, reason: str = "Returned by the shopper", **kw) -> Refund:
    return order_refund_record(order=order, amount=amount, reason=reason, actor="merchant", **kw)


def test_a_partial_then_a_full_refund_show_on_the_order_with_a_line_and_an_email_each(
    mailoutbox, run_tasks
):
    order = paid_order("20.00")

    record(order, "5.00", "The mug arrived chipped")
    order.refresh_from_db()
    assert order.refunded_total == Decimal("5.00")
    assert order.refund_state == "partially_refunded"
    assert order_status_display(order) == "Paid (partially refunded)"

    record(order, "15.00")
    order.refresh_from_db()
    run_tasks()

    assert order.refunded_total == Decimal("20.00")
    assert order.refund_state == "refunded"
    assert order.status == Order.Status.PAID  # the status machine is untouched
    assert order_status_display(order) == "Paid (refunded)"
    lines = list(order.history.filter(kind=OrderEvent.Kind.REFUND))
    assert len(lines) == 2
    assert "$5.00" in lines[0].message
    assert "The mug arrived chipped" in lines[0].message
    assert NO_REFUND_API in lines[0].message  # the provider's word: banq has no refund call
    assert lines[1].data["amount"] == "15.00"
    assert [m.subject for m in mailoutbox] == [
        f"{settings.STORE_NAME}: $5.00 refunded (order {order.number})",
        f"{settings.STORE_NAME}: $15.00 refunded (order {order.number})",
    ]
    assert "The mug arrived chipped" in mailoutbox[0].body
    payload = order_status_payload(order)
    assert payload["refunded"] == "20.00"
    assert payload["refund_state"] == "refunded"


def test_running_the_email_task_again_sends_nothing_twice(mailoutbox, run_tasks):
    order = paid_order()
    refund = record(order, "1.00")
    run_tasks()

    from orders.tasks import order_email_send

    order_email_send.call(order.pk, f"refunded:{refund.pk}")

    assert len(mailoutbox) == 1


@pytest.mark.parametrize("amount", ["20.01", "100"])
def test_a_refund_over_the_paid_amount_is_refused_and_nothing_is_stored(amount, mailoutbox):
    order = paid_order("20.00")

    with pytest.raises(RefundError, match=r"At most \$20\.00"):
        record(order, amount)

    order.refresh_from_db()
    assert order.refunded_total == Decimal("0.00")
    assert not Refund.objects.exists()
    assert not order.history.filter(kind=OrderEvent.Kind.REFUND).exists()


def test_refunds_together_never_exceed_the_paid_amount():
    order = paid_order("20.00")
    record(order, "15.00")

    with pytest.raises(RefundError, match=r"At most \$5\.00 .* \$15\.00 refunded already"):
        record(order, "5.01")
    record(order, "5.00")

    with pytest.raises(RefundError):
        record(order, "0.01")
    assert Refund.objects.filter(order=order).count() == 2


def test_an_unpaid_order_has_nothing_to_refund():
    order = order_create(total="20.00", status=Order.Status.AWAITING_PAYMENT)

    with pytest.raises(RefundError, match="no such payment"):
        record(order, "1.00")

    assert order_refundables(order=order) == []
    assert not Refund.objects.exists()


@pytest.mark.parametrize(
    ("amount", "reason", "message"),
    [
        ("abc", "x", "Enter the amount"),
        ("", "x", "Enter the amount"),
        ("0", "x", "more than zero"),
        ("-5", "x", "more than zero"),
        ("1.005", "x", "two decimal places"),
        ("NaN", "x", "more than zero|Enter the amount"),
        ("Infinity", "x", "more than zero|Enter the amount"),
        ("1e12", "x", "too large|At most"),
        ("1.00", "", "Say why"),
        ("1.00", "   ", "Say why"),
        ("1.00", "a" * 501, "at most 500"),
        ("1.00", "bad\x00reason", "can't be stored"),
        ("1.00", "bad\x07bell", "can't be stored"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_stored(amount, reason, message):
    order = paid_order()

    with pytest.raises(RefundError, match=message):
        record(order, amount, reason)

    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.refunded_total == Decimal("0.00")


def test_a_refund_covering_a_payment_after_cancellation_resolves_the_refund_due_flag(
    mailoutbox, run_tasks
):
    order = order_create(
        total="20.00",
        status=Order.Status.CANCELLED,
        paid_at=timezone.now(),
        payment_reference="pay-late",
    )
    flag = OrderFlag.objects.create(
        order=order, kind=OrderFlag.Kind.REFUND_DUE, note="refund it", reference="pay-late"
    )
    other = OrderFlag.objects.create(order=order, kind=OrderFlag.Kind.AMOUNT_MISMATCH, note="x")
    assert order.refund_due

    record(order, "5.00")
    flag.refresh_from_db()
    order.refresh_from_db()
    assert flag.resolved_at is None  # a partial refund doesn't cover it
    assert order.refund_due
    assert order_status_display(order) == "Cancelled (refund due)"

    record(order, "15.00")
    flag.refresh_from_db()
    other.refresh_from_db()
    order.refresh_from_db()

    assert flag.resolved_at is not None
    assert flag.resolved_by == "merchant"
    assert other.resolved_at is None  # other flags are not the refund's business
    assert not order.refund_due
    assert order_status_payload(order)["states"] == ["refunded"]
    assert order_status_display(order) == "Cancelled (refunded)"
    assert order.history.filter(
        kind=OrderEvent.Kind.FLAG_RESOLVED, data__flag="refund_due"
    ).exists()


def test_an_installment_charged_after_cancellation_is_refunded_on_its_own(run_tasks, mailoutbox):
    order = recurring_order_create()
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.PAID, paid_at=timezone.now(), payment_reference="pay-plan"
    )
    order.refresh_from_db()
    subscription = order.subscription
    late = Installment.objects.create(
        subscription=subscription,
        number=3,
        transaction_id="tx-late",
        status=Installment.Status.PAID,
        amount=Decimal("9.90"),
        occurred_at=timezone.now(),
    )
    flag = OrderFlag.objects.create(
        order=order, kind=OrderFlag.Kind.INSTALLMENT_UNEXPECTED, note="x", reference="tx-late"
    )
    keys = {r.key: r for r in order_refundables(order=order)}
    assert set(keys) == {"order", f"installment-{late.pk}"}

    with pytest.raises(RefundError, match=r"At most \$9\.90"):
        record(order, "9.91", payment=f"installment-{late.pk}")
    record(order, "9.90", "Charged after you cancelled", payment=f"installment-{late.pk}")
    run_tasks()

    flag.refresh_from_db()
    order.refresh_from_db()
    refund = Refund.objects.get()
    assert refund.installment == late
    assert flag.resolved_at is not None
    assert order.refund_state == "partially_refunded"  # the first payment was not refunded
    assert "payment 4 of your plan" in mailoutbox[0].body


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_cannot_exceed_the_paid_amount(monkeypatch):
    """Two merchants record 15.00 of a 20.00 payment at the same moment: the order's lock makes
    the second see the first, so one is refused."""
    order = paid_order("20.00")
    real = BanqProvider.record_refund

    def slow(self, **kwargs):
        time.sleep(0.3)  # both would have read "20.00 left" by now without the lock
        return real(self, **kwargs)

    monkeypatch.setattr(BanqProvider, "record_refund", slow)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def refund() -> None:
        barrier.wait()
        try:
            record(Order.objects.get(pk=order.pk), "15.00")
            results.append("recorded")
        except RefundError:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=refund) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["recorded", "refused"]
    order.refresh_from_db()
    assert order.refunded_total == Decimal("15.00")
    assert Refund.objects.filter(order=order).count() == 1


def test_the_shopper_sees_the_refunds_on_the_order_page(client):
    from orders.access import order_signed_url

    order = paid_order("20.00")
    record(order, "5.00", "The mug arrived chipped")

    html = client.get(order_signed_url(order=order)).content.decode()

    assert "Paid (partially refunded)" in html
    assert 'id="order-refunds"' in html
    assert "Partially refunded</strong>: $5.00 refunded to you." in html
    assert "$5.00. The mug arrived chipped" in html


def test_an_order_without_refunds_shows_no_refunds_section(client):
    from orders.access import order_signed_url

    order = paid_order("20.00")

    html = client.get(order_signed_url(order=order)).content.decode()

    assert 'id="order-refunds"' not in html
