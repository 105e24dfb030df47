"""banq.settlement: payment_apply and payment_recheck, the one locked payment service."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings

from banq.models import BanqPayment
from banq.payloads import parse_payment
from banq.settlement import PaymentOutcome, payment_apply, payment_recheck
from orders.models import Order
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


def test_completed_payment_marks_the_order_paid_and_records_banq_data(
    django_capture_on_commit_callbacks, mailoutbox, paid_signals
):
    order, attempt = order_with_attempt(total="19.99")
    listener = GroupListener(order)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = payment_apply(remote=remote(order))

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
    django_capture_on_commit_callbacks, mailoutbox, paid_signals
):
    order, _ = order_with_attempt()
    listener = GroupListener(order)
    with django_capture_on_commit_callbacks(execute=True):
        first = payment_apply(remote=remote(order))
    with django_capture_on_commit_callbacks(execute=True):
        second = payment_apply(remote=remote(order))

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
    assert order.attention == Order.Attention.AMOUNT_MISMATCH
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
    assert order.attention == Order.Attention.PAYMENT_REJECTED
    assert attempt.status == BanqPayment.Status.REJECTED
    assert "Foreign destination" in attempt.verification_error


def test_destination_is_compared_case_insensitively():
    order, _ = order_with_attempt()
    outcome = payment_apply(
        remote=remote(order, destination_guid=settings.BANQ_MERCHANT_GUID.upper())
    )
    assert outcome.result == "paid"


def test_order_code_mismatch_is_rejected():
    order, attempt = order_with_attempt()

    outcome = payment_apply(remote=remote(order, external_order_code="SF-SOMEONE-ELSE"))

    assert outcome.result == "rejected"
    assert "Order code mismatch" in outcome.reason
    order.refresh_from_db()
    assert order.paid_at is None


def test_unknown_order_is_unmatched():
    outcome = payment_apply(
        remote=parse_payment(payment_payload(status="completed", external_order_code="SF-NOPE"))
    )
    assert outcome.result == "unmatched"
    assert outcome.order is None
    assert "SF-NOPE" in outcome.reason
    assert BanqPayment.objects.count() == 0


def test_payment_found_only_by_order_code_creates_an_attempt():
    order = order_create(total="19.99", status=Order.Status.AWAITING_PAYMENT)

    outcome = payment_apply(remote=remote(order))

    assert outcome.result == "paid"
    attempt = BanqPayment.objects.get(order=order)
    assert attempt.banq_payment_id == PAYMENT_ID
    assert attempt.status == BanqPayment.Status.COMPLETED
    assert attempt.funds == Decimal("19.99")


def test_attempt_without_banq_id_is_matched_by_link_url():
    order, attempt = order_with_attempt(payment_id="")

    outcome = payment_apply(remote=remote(order))

    assert outcome.result == "paid"
    attempt.refresh_from_db()
    assert attempt.banq_payment_id == PAYMENT_ID
    assert BanqPayment.objects.count() == 1


def test_failed_payment_fails_the_order_with_banqs_reason(
    django_capture_on_commit_callbacks, mailoutbox
):
    order, attempt = order_with_attempt()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = payment_apply(
            remote=remote(order, status="failed", fail_reason="InsufficientBalance")
        )

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

    assert outcome.result == "failed"
    assert not outcome.changed
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert attempt.status == BanqPayment.Status.COMPLETED


def test_failure_of_a_superseded_attempt_does_not_fail_the_order():
    order, old = order_with_attempt(payment_id="old-payment", attempt_status="superseded")
    BanqPayment.objects.create(
        order=order, banq_payment_id="new-payment", funds=order.total, status="created"
    )

    outcome = payment_apply(
        remote=remote(order, payment_id="old-payment", status="failed", fail_reason="X")
    )

    assert outcome.result == "failed"
    assert not outcome.changed
    order.refresh_from_db()
    old.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert old.status == BanqPayment.Status.SUPERSEDED
    assert old.fail_reason == "X"


def test_paid_after_cancellation_keeps_the_status_and_flags_the_order(
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
    assert order.attention == Order.Attention.PAID_AFTER_CANCELLATION
    assert attempt.status == BanqPayment.Status.COMPLETED


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

    assert outcome.result == "already_paid"
    assert not outcome.changed
    order.refresh_from_db()
    assert order.payment_reference == PAYMENT_ID
    assert order.attention == Order.Attention.UNMATCHED_PAYMENT
    assert "another-payment" in order.attention_note
    assert BanqPayment.objects.get(banq_payment_id="another-payment").status == "completed"


def test_payment_recheck_fetches_and_applies(banq_api):
    order, attempt = order_with_attempt()
    add_payment(banq_api, payment_payload(status="completed", external_order_code=order.number))

    outcome = payment_recheck(attempt=attempt)

    assert outcome.result == "paid"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_payment_recheck_without_banq_id_is_unmatched():
    _, attempt = order_with_attempt(payment_id="")
    outcome = payment_recheck(attempt=attempt)
    assert outcome.result == "unmatched"
