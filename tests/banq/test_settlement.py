"""banq.settlement: payment_evaluate (the one evaluator), payment_apply and payment_recheck (the
one locked payment service)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings

from banq.models import BanqPayment
from banq.payloads import parse_payment
from banq.settlement import (
    PaymentOutcome,
    Settlement,
    payment_apply,
    payment_evaluate,
    payment_preview,
    payment_recheck,
)
from orders.models import Order, OrderEvent, OrderFlag
from orders.signals import order_paid
from tests.factories import order_create
from tests.support.banq_api import PAYMENT_ID, add_payment, payment_payload
from tests.webhooks.support import GroupListener, order_with_attempt

pytestmark = pytest.mark.django_db

OTHER_MERCHANT = "11111111-2222-4333-8444-555555555555"


def remote(order: Order, **kwargs):
    kwargs.setdefault("status", "completed")
    kwargs.setdefault("funds", order.total)
    kwargs.setdefault("external_order_code", order.number)
    return parse_payment(payment_payload(**kwargs))


@pytest.fixture
def paid_signals():
    received = []

    def receiver(sender, order, **kwargs):
        received.append(order.pk)

    order_paid.connect(receiver)
    yield received
    order_paid.disconnect(receiver)


def flags(order: Order) -> list[str]:
    return sorted(order.flags.values_list("kind", flat=True))


def test_completed_payment_marks_the_order_paid_and_records_banq_data(
    django_capture_on_commit_callbacks, mailoutbox, paid_signals, run_tasks
):
    order, attempt = order_with_attempt(total="19.99")
    listener = GroupListener(order)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = payment_apply(remote=remote(order))
    run_tasks()

    assert isinstance(outcome, PaymentOutcome)
    assert (outcome.result, outcome.changed, outcome.reason) == ("paid", True, "")
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.payment_reference == PAYMENT_ID
    assert order.paid_at is not None
    assert attempt.status == BanqPayment.Status.COMPLETED
    assert attempt.banq_status == "completed"
    assert attempt.completed_at is not None
    assert attempt.last_payload["funds"] == "19.99"
    assert outcome.attempt.pk == attempt.pk
    assert len(mailoutbox) == 1
    assert paid_signals == [order.pk]
    messages = listener.messages()
    assert [m["status"] for m in messages] == ["paid"]


def test_applying_the_same_payment_twice_is_a_no_op(
    django_capture_on_commit_callbacks, mailoutbox, paid_signals, run_tasks
):
    order, _ = order_with_attempt()
    listener = GroupListener(order)
    with django_capture_on_commit_callbacks(execute=True):
        first = payment_apply(remote=remote(order))
    with django_capture_on_commit_callbacks(execute=True):
        second = payment_apply(remote=remote(order))
    run_tasks()

    assert first.result == "paid"
    assert first.changed
    assert second.result == "already_paid"
    assert not second.changed
    assert len(mailoutbox) == 1
    assert len(paid_signals) == 1
    assert len(listener.messages()) == 1


def test_amount_off_by_one_cent_is_rejected_and_flagged(mailoutbox):
    order, attempt = order_with_attempt(total="19.99")

    outcome = payment_apply(remote=remote(order, funds=Decimal("19.98")))

    assert outcome.result == "rejected"
    assert not outcome.changed
    assert "Amount mismatch" in outcome.reason
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.paid_at is None
    assert flags(order) == [OrderFlag.Kind.AMOUNT_MISMATCH]
    assert attempt.status == BanqPayment.Status.REJECTED
    assert "19.98" in attempt.verification_error
    assert mailoutbox == []


def test_payment_to_another_merchant_is_rejected():
    order, attempt = order_with_attempt()

    outcome = payment_apply(remote=remote(order, destination_guid=OTHER_MERCHANT))

    assert outcome.result == "rejected"
    assert "Foreign destination" in outcome.reason
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.paid_at is None
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert flags(order) == [OrderFlag.Kind.DESTINATION_MISMATCH]
    assert attempt.status == BanqPayment.Status.REJECTED
    assert "Foreign destination" in attempt.verification_error


def test_destination_is_compared_case_insensitively():
    order, _ = order_with_attempt()
    outcome = payment_apply(
        remote=remote(order, destination_guid=settings.BANQ_MERCHANT_GUID.upper())
    )
    assert outcome.result == "paid"


def test_payment_in_another_currency_is_rejected_and_flagged():
    order, attempt = order_with_attempt(total="19.99")

    payload = payment_payload(
        status="completed", funds=order.total, external_order_code=order.number
    )
    payload["data"]["funds"] = {"value": order.total, "currency": "EUR"}  # banq's amount object

    outcome = payment_apply(remote=parse_payment(payload))

    assert outcome.result == "rejected"
    assert "Currency mismatch" in outcome.reason
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.paid_at is None
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert flags(order) == [OrderFlag.Kind.AMOUNT_MISMATCH]
    assert attempt.status == BanqPayment.Status.REJECTED
    assert "EUR" in attempt.verification_error


def test_payment_in_the_order_s_currency_pays_it():
    order, _ = order_with_attempt(total="19.99")

    outcome = payment_apply(remote=remote(order, currency=order.currency.lower()))

    assert outcome.result == "paid"


def test_order_code_mismatch_is_rejected():
    order, attempt = order_with_attempt()

    outcome = payment_apply(remote=remote(order, external_order_code="SF-SOMEONE-ELSE"))

    assert outcome.result == "rejected"
    assert "Order code mismatch" in outcome.reason
    order.refresh_from_db()
    assert order.paid_at is None
    assert flags(order) == [OrderFlag.Kind.ORDER_CODE_MISMATCH]


def test_unknown_order_is_unmatched():
    outcome = payment_apply(
        remote=parse_payment(payment_payload(status="completed", external_order_code="SF-NOPE"))
    )
    assert outcome.result == "unmatched"
    assert outcome.order is None
    assert "SF-NOPE" in outcome.reason
    assert BanqPayment.objects.count() == 0


def test_a_payment_the_store_did_not_create_pays_in_full_and_is_flagged():
    order = order_create(total="19.99", status=Order.Status.AWAITING_PAYMENT)

    outcome = payment_apply(remote=remote(order))

    assert outcome.result == "paid"
    attempt = BanqPayment.objects.get(order=order)
    assert attempt.banq_payment_id == PAYMENT_ID
    assert attempt.status == BanqPayment.Status.COMPLETED
    assert attempt.funds == Decimal("19.99")
    assert not attempt.created_by_store
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert flags(order) == [OrderFlag.Kind.UNKNOWN_PAYMENT]


def test_a_failed_payment_the_store_did_not_create_leaves_the_order_payable():
    order, live = order_with_attempt()

    outcome = payment_apply(
        remote=remote(order, payment_id="orphan", status="failed", fail_reason="General Error")
    )

    assert outcome.result == Settlement.FAILED_ELSEWHERE
    assert not outcome.changed
    order.refresh_from_db()
    live.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.payment_error == ""
    assert live.status == BanqPayment.Status.CREATED
    orphan = BanqPayment.objects.get(banq_payment_id="orphan")
    assert (orphan.created_by_store, orphan.status) == (False, BanqPayment.Status.FAILED)
    assert flags(order) == [OrderFlag.Kind.UNKNOWN_PAYMENT]


def test_only_the_newest_open_link_can_fail_the_order():
    order, older = order_with_attempt(payment_id="older-payment")
    BanqPayment.objects.create(
        order=order, banq_payment_id="newer-payment", funds=order.total, status="created"
    )

    outcome = payment_apply(
        remote=remote(order, payment_id="older-payment", status="failed", fail_reason="X")
    )

    assert outcome.result == Settlement.FAILED_ELSEWHERE
    order.refresh_from_db()
    older.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert older.status == BanqPayment.Status.FAILED


def test_attempt_without_banq_id_is_matched_by_link_url():
    order, attempt = order_with_attempt(payment_id="")

    outcome = payment_apply(remote=remote(order))

    assert outcome.result == "paid"
    attempt.refresh_from_db()
    assert attempt.banq_payment_id == PAYMENT_ID
    assert BanqPayment.objects.count() == 1


def test_failed_payment_fails_the_order_with_banqs_reason(
    django_capture_on_commit_callbacks, mailoutbox, run_tasks
):
    order, attempt = order_with_attempt()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = payment_apply(
            remote=remote(order, status="failed", fail_reason="InsufficientBalance")
        )
    run_tasks()

    assert outcome.result == "failed"
    assert outcome.changed
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.status == Order.Status.FAILED
    assert attempt.status == BanqPayment.Status.FAILED
    assert attempt.fail_reason == "InsufficientBalance"
    assert order.payment_error == "Your banq account doesn't have enough balance for this payment."
    assert mailoutbox == []


def test_failed_after_paid_changes_nothing():
    order, attempt = order_with_attempt()
    payment_apply(remote=remote(order))

    outcome = payment_apply(remote=remote(order, status="failed", fail_reason="General Error"))

    assert outcome.result == Settlement.CONTRADICTION
    assert not outcome.changed
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert attempt.status == BanqPayment.Status.COMPLETED
    assert flags(order) == [OrderFlag.Kind.PAYMENT_CONTRADICTION]


def test_failure_of_a_superseded_attempt_does_not_fail_the_order():
    order, old = order_with_attempt(payment_id="old-payment", attempt_status="superseded")
    BanqPayment.objects.create(
        order=order, banq_payment_id="new-payment", funds=order.total, status="created"
    )

    outcome = payment_apply(
        remote=remote(order, payment_id="old-payment", status="failed", fail_reason="X")
    )

    assert outcome.result == Settlement.FAILED_ELSEWHERE
    assert not outcome.changed
    order.refresh_from_db()
    old.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert old.status == BanqPayment.Status.SUPERSEDED
    assert old.fail_reason == "X"


def test_paid_after_cancellation_keeps_the_status_and_flags_a_refund(
    django_capture_on_commit_callbacks,
):
    order, attempt = order_with_attempt(status=Order.Status.CANCELLED)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = payment_apply(remote=remote(order))

    assert outcome.result == "paid"
    assert outcome.changed
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.paid_at is not None
    assert order.refund_due
    assert flags(order) == [OrderFlag.Kind.REFUND_DUE]
    assert attempt.status == BanqPayment.Status.COMPLETED


def test_paid_after_expiry_makes_the_order_paid():
    order, _ = order_with_attempt(status=Order.Status.EXPIRED)

    outcome = payment_apply(remote=remote(order), source=OrderEvent.Source.SWEEP)

    assert outcome.result == "paid"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert not order.refund_due
    assert flags(order) == []
    paid = order.history.get(kind=OrderEvent.Kind.PAID)
    assert (paid.from_status, paid.source) == (Order.Status.EXPIRED, "sweep")


def test_pending_order_becomes_paid():
    order, _ = order_with_attempt(status=Order.Status.PENDING)
    assert payment_apply(remote=remote(order)).result == "paid"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_not_completed_payment_changes_nothing():
    order, attempt = order_with_attempt()

    outcome = payment_apply(remote=remote(order, status="created"))

    assert outcome.result == "not_completed"
    assert not outcome.changed
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert attempt.status == BanqPayment.Status.CREATED
    assert attempt.banq_status == "created"


def test_a_second_payment_for_a_paid_order_is_flagged():
    order, _ = order_with_attempt()
    payment_apply(remote=remote(order))

    outcome = payment_apply(remote=remote(order, payment_id="another-payment"))

    assert outcome.result == Settlement.PAID_TWICE
    assert not outcome.changed
    order.refresh_from_db()
    assert order.payment_reference == PAYMENT_ID
    assert OrderFlag.Kind.DUPLICATE_PAYMENT in flags(order)
    assert "another-payment" in order.flags.get(kind=OrderFlag.Kind.DUPLICATE_PAYMENT).note
    assert BanqPayment.objects.get(banq_payment_id="another-payment").status == "completed"


def test_payment_recheck_fetches_and_applies(banq_api):
    order, attempt = order_with_attempt()
    add_payment(banq_api, payment_payload(status="completed", external_order_code=order.number))

    outcome = payment_recheck(attempt=attempt, source=OrderEvent.Source.ADMIN)

    assert outcome.result == "paid"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.history.get(kind=OrderEvent.Kind.PAID).source == "admin"


def test_payment_recheck_without_banq_id_is_unmatched():
    _, attempt = order_with_attempt(payment_id="")
    outcome = payment_recheck(attempt=attempt, source=OrderEvent.Source.ADMIN)
    assert outcome.result == "unmatched"


def test_four_rejected_outside_payments_then_the_real_one_keep_every_flag():
    order, _ = order_with_attempt(total="19.99")
    for n in range(4):
        payment_apply(remote=remote(order, payment_id=f"outside-{n}", funds=Decimal("0.01")))

    outcome = payment_apply(remote=remote(order))

    assert outcome.result == "paid"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.flags.filter(kind=OrderFlag.Kind.AMOUNT_MISMATCH).count() == 4
    assert order.flags.count() == 4
    assert order.history.filter(kind=OrderEvent.Kind.FLAG).count() == order.flags.count()


# --- the evaluator ---------------------------------------------------------------------------


def test_evaluate_writes_nothing_and_names_the_flag(django_assert_num_queries):
    order, attempt = order_with_attempt(total="19.99")
    banq_says = remote(order, funds=Decimal("0.01"))

    with django_assert_num_queries(0):
        evaluation = payment_evaluate(
            order=order, attempt=attempt, remote=banq_says, live_attempt_id=attempt.pk
        )

    assert evaluation.outcome == Settlement.REJECTED
    assert evaluation.flag == OrderFlag.Kind.AMOUNT_MISMATCH
    assert "0.01" in evaluation.reason


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, Settlement.PAID),
        ({"funds": Decimal("0.01")}, Settlement.REJECTED),
        ({"destination_guid": OTHER_MERCHANT}, Settlement.REJECTED),
        ({"external_order_code": "SF-OTHER"}, Settlement.REJECTED),
        ({"status": "failed", "fail_reason": "InsufficientBalance"}, Settlement.FAILED),
        ({"status": "created"}, Settlement.NOT_COMPLETED),
    ],
)
def test_preview_and_apply_agree(change, expected):
    order, _ = order_with_attempt(total="19.99")
    banq_says = remote(order, **change)

    preview = payment_preview(remote=banq_says)
    applied = payment_apply(remote=banq_says)

    assert preview.result == applied.result == expected
    assert preview.reason == applied.reason
