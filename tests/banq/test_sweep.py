"""The worker's sweep asks banq about due attempts through banq.lookups: an attempt someone is
asking about right now is left to them, and banq being down stops the run and changes nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from banq.lookups import FAILED_LOOKUP_RETRY
from banq.models import BanqPayment
from banq.tasks import banq_sweep
from orders.models import Order
from tests.support.banq_api import add_payment, api_calls, payment_payload
from tests.webhooks.support import order_with_attempt

pytestmark = pytest.mark.django_db


def _due(**kwargs) -> tuple[Order, BanqPayment]:
    order, attempt = order_with_attempt(**kwargs)
    BanqPayment.objects.filter(pk=attempt.pk).update(next_check_at=timezone.now())
    return order, attempt


def test_the_sweep_applies_banqs_answer_to_a_due_attempt(banq_api):
    order, _ = _due()
    add_payment(
        banq_api,
        payment_payload(status="completed", funds=order.total, external_order_code=order.number),
    )

    assert banq_sweep.call() == "1 checked, 0 error(s)"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_the_sweep_leaves_an_attempt_someone_is_asking_about_to_them(banq_api):
    order, attempt = _due()
    BanqPayment.objects.filter(pk=attempt.pk).update(check_claimed_at=timezone.now())

    assert banq_sweep.call() == "0 checked, 0 error(s), 1 being asked"
    assert api_calls(banq_api) == []


def test_banq_down_stops_the_sweep_and_it_asks_again_soon(banq_api):
    first, attempt = _due(payment_id="pay-1")
    second, _ = _due(payment_id="pay-2")
    add_payment(banq_api, {"error": "down"}, payment_id="pay-1", status=503)

    assert banq_sweep.call() == "0 checked, 1 error(s)"

    assert {c.request.url.rsplit("/", 1)[1] for c in api_calls(banq_api)} == {"pay-1"}
    attempt.refresh_from_db()
    assert attempt.next_check_at <= timezone.now() + FAILED_LOOKUP_RETRY
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Order.Status.AWAITING_PAYMENT,) * 2
    assert first.provider_unreachable_since is not None
    assert second.provider_unreachable_since is None  # not asked: not known to be unreachable
