"""banq.lookups: one look-up per payment at a time, three answers, and never a guess."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from banq.lookups import FAILED_LOOKUP_RETRY, Answer, attempt_lookup
from banq.models import BanqPayment
from orders.models import Order, OrderEvent
from tests.support.banq_api import add_payment, api_calls, payment_payload
from tests.webhooks.support import order_with_attempt

pytestmark = pytest.mark.django_db

SWEEP = OrderEvent.Source.SWEEP


def _remote(order: Order, status: str) -> dict:
    return payment_payload(status=status, funds=order.total, external_order_code=order.number)


def _claimed(attempt: BanqPayment, *, ago: float = 0.0, **fields) -> None:
    """Another process's look-up: it began ``ago`` seconds ago (and ``fields`` say how it ended)."""
    BanqPayment.objects.filter(pk=attempt.pk).update(
        check_claimed_at=timezone.now() - timedelta(seconds=ago), **fields
    )


def test_a_look_up_asks_banq_and_applies_its_answer(banq_api):
    order, attempt = order_with_attempt()
    add_payment(banq_api, _remote(order, "completed"))

    lookup = attempt_lookup(attempt=attempt, source=SWEEP)

    assert (lookup.answer, lookup.paid) == (Answer.ANSWERED, True)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    attempt.refresh_from_db()
    assert attempt.checked_at >= attempt.check_claimed_at


def test_a_failed_look_up_says_so_marks_the_order_and_ends_its_claim(banq_api):
    order, attempt = order_with_attempt()
    down = add_payment(banq_api, {"error": "down"}, payment_id=attempt.banq_payment_id, status=503)

    lookup = attempt_lookup(attempt=attempt, source=SWEEP)

    assert (lookup.answer, lookup.answered, lookup.paid) == (Answer.UNREACHABLE, False, False)
    attempt.refresh_from_db()
    order.refresh_from_db()
    assert attempt.check_failed_at >= attempt.check_claimed_at
    assert attempt.next_check_at <= timezone.now() + FAILED_LOOKUP_RETRY
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.provider_unreachable_since is not None
    lines = order.history.filter(kind=OrderEvent.Kind.RECHECK)
    assert [line.message[:32] for line in lines] == ["banq can't be reached right now "]

    # The claim ended: the next caller asks banq itself, and banq's answer clears the mark.
    banq_api.remove(down)
    add_payment(banq_api, _remote(order, "created"))
    again = attempt_lookup(attempt=attempt, source=SWEEP)

    assert again.answer == Answer.ANSWERED
    assert api_calls(banq_api)[-1].response.status_code == 200
    order.refresh_from_db()
    assert order.provider_unreachable_since is None
    assert order.history.filter(kind=OrderEvent.Kind.RECHECK).count() == 2  # not marked twice


def test_banq_refusing_one_look_up_is_no_answer_but_not_unreachable(banq_api):
    order, attempt = order_with_attempt()
    add_payment(banq_api, {"error": "gone"}, payment_id=attempt.banq_payment_id, status=404)

    lookup = attempt_lookup(attempt=attempt, source=SWEEP)

    assert lookup.answer == Answer.UNREACHABLE
    order.refresh_from_db()
    assert order.provider_unreachable_since is None


def test_a_look_up_in_flight_is_waited_for_and_never_taken_for_an_answer(banq_api):
    order, attempt = order_with_attempt()
    _claimed(attempt)  # another process is asking banq right now

    started = time.monotonic()
    lookup = attempt_lookup(attempt=attempt, source=SWEEP, wait=0.3)

    assert lookup.answer == Answer.BUSY
    assert 0.3 <= time.monotonic() - started < 2
    assert api_calls(banq_api) == []
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


@pytest.mark.django_db(transaction=True)
def test_the_answer_of_a_look_up_that_began_after_us_is_shared(banq_api):
    order, attempt = order_with_attempt()
    since = timezone.now()
    _claimed(attempt)  # began after ``since``

    def the_other_look_up_ends() -> None:
        time.sleep(0.3)
        BanqPayment.objects.filter(pk=attempt.pk).update(
            checked_at=timezone.now(), status=BanqPayment.Status.COMPLETED
        )
        connection.close()  # this thread's own

    other = threading.Thread(target=the_other_look_up_ends)
    other.start()
    lookup = attempt_lookup(attempt=attempt, source=SWEEP, since=since, wait=5)
    other.join()

    assert (lookup.answer, lookup.paid, lookup.outcome) == (Answer.ANSWERED, True, None)
    assert api_calls(banq_api) == []


@pytest.mark.django_db(transaction=True)
def test_a_look_up_that_began_before_us_is_waited_for_then_banq_is_asked_again(banq_api):
    order, attempt = order_with_attempt()
    _claimed(attempt, ago=1)  # began before this caller: it may have missed a payment since
    add_payment(banq_api, _remote(order, "completed"))

    def the_other_look_up_ends() -> None:
        time.sleep(0.3)
        BanqPayment.objects.filter(pk=attempt.pk).update(checked_at=timezone.now())
        connection.close()  # this thread's own

    other = threading.Thread(target=the_other_look_up_ends)
    other.start()
    lookup = attempt_lookup(attempt=attempt, source=SWEEP, wait=5)
    other.join()

    assert (lookup.answer, lookup.paid) == (Answer.ANSWERED, True)
    assert len(api_calls(banq_api)) == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_within_the_interval_the_last_answer_or_failure_stands(banq_api):
    order, answered = order_with_attempt()
    _claimed(answered, ago=1, checked_at=timezone.now())
    _, failed = order_with_attempt(payment_id="other-payment")
    _claimed(failed, ago=1, check_failed_at=timezone.now())

    kept = attempt_lookup(attempt=answered, source="confirm", min_interval=3)
    refused = attempt_lookup(attempt=failed, source="confirm", min_interval=3)

    assert (kept.answer, refused.answer) == (Answer.ANSWERED, Answer.UNREACHABLE)
    assert api_calls(banq_api) == []


def test_the_claim_of_a_process_that_died_is_taken_over(banq_api, settings):
    order, attempt = order_with_attempt()
    settings.BANQ_CONNECT_TIMEOUT, settings.BANQ_READ_TIMEOUT, settings.BANQ_RETRIES = 1, 1, 0
    _claimed(attempt, ago=60)  # never ended: its process was killed mid-look-up
    add_payment(banq_api, _remote(order, "created"))

    lookup = attempt_lookup(attempt=attempt, source=SWEEP)

    assert lookup.answer == Answer.ANSWERED
    assert len(api_calls(banq_api)) == 1
