"""Expiry and cancellation ask banq first, take the order's lock and banq's fresh answer, and
change nothing on "could not ask" (down, erroring, slow, or a look-up in flight)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from banq.models import BanqPayment
from orders.access import session_grant_order
from orders.models import Order, OrderEvent
from orders.services import EndResult, order_cancel, order_expire, orders_expire_run
from orders.services import status as status_module
from tests.support.banq_api import add_payment, api_calls, payment_payload
from tests.webhooks.support import order_with_attempt

pytestmark = pytest.mark.django_db

ADMIN = OrderEvent.Source.ADMIN


def _remote(order: Order, status: str, payment_id: str | None = None) -> dict:
    kwargs = {"payment_id": payment_id} if payment_id else {}
    return payment_payload(
        status=status, funds=order.total, external_order_code=order.number, **kwargs
    )


def _stale(order: Order) -> Order:
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=2))
    order.refresh_from_db()
    return order


def _ended(order: Order) -> bool:
    return order.history.filter(to_status__in=["cancelled", "expired", "failed"]).exists()


def test_cancel_with_banq_saying_not_paid_cancels(banq_api):
    order, _ = order_with_attempt()
    add_payment(banq_api, _remote(order, "created"))

    assert order_cancel(order=order, source=ADMIN) == EndResult.DONE
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_cancel_twice_while_banq_is_down_never_cancels_and_asks_banq_each_time(banq_api):
    order, attempt = order_with_attempt()
    add_payment(banq_api, {"error": "down"}, payment_id=attempt.banq_payment_id, status=503)

    results = [order_cancel(order=order, source=ADMIN) for _ in range(2)]

    assert results == [EndResult.UNKNOWN, EndResult.UNKNOWN]
    assert len(api_calls(banq_api)) == 2  # the second did not take the first's claim for a "no"
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.provider_unreachable_since is not None
    assert not _ended(order)


def test_cancel_while_a_look_up_is_in_flight_waits_then_changes_nothing(banq_api, settings):
    settings.BANQ_REQUEST_BUDGET = 0.3
    order, attempt = order_with_attempt()
    BanqPayment.objects.filter(pk=attempt.pk).update(check_claimed_at=timezone.now())

    assert order_cancel(order=order, source=ADMIN) == EndResult.UNKNOWN
    assert api_calls(banq_api) == []
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.provider_unreachable_since is None  # busy, not unreachable


def test_a_link_handed_out_between_the_ask_and_the_lock_is_asked_about_first(banq_api, monkeypatch):
    order, _ = order_with_attempt()
    add_payment(banq_api, _remote(order, "created"))
    add_payment(banq_api, _remote(order, "completed", payment_id="late-link"))
    real_check = status_module.order_payments_check
    rounds: list[int] = []

    def check_then_a_click_lands(**kwargs):
        verdict = real_check(**kwargs)
        if not rounds:  # the shopper's Pay made a new link meanwhile, and paid it
            BanqPayment.objects.create(
                order=order,
                banq_payment_id="late-link",
                url="https://link.banq.com/late",
                funds=Decimal(order.total),
                checked_at=timezone.now(),
            )
        rounds.append(1)
        return verdict

    monkeypatch.setattr(status_module, "order_payments_check", check_then_a_click_lands)

    result = order_cancel(order=order, source=ADMIN)

    assert result == EndResult.PAID
    assert len(rounds) == 2
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert not _ended(order)


def test_payments_that_keep_moving_postpone_the_cancel(banq_api, monkeypatch):
    order, _ = order_with_attempt()
    add_payment(banq_api, _remote(order, "created"))
    monkeypatch.setattr(status_module, "order_payments_answered", lambda **kwargs: False)

    assert order_cancel(order=order, source=ADMIN) == EndResult.UNKNOWN
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_expiry_run_stops_while_banq_is_down(banq_api):
    orders = [_stale(order_with_attempt(payment_id=f"pay-{n}")[0]) for n in range(3)]
    add_payment(banq_api, {"error": "down"}, payment_id="pay-0", status=503)

    run = orders_expire_run()

    assert (run.expired, run.postponed, run.unreachable, run.left) == ([], orders[:1], True, 2)
    assert {o.status for o in Order.objects.all()} == {Order.Status.AWAITING_PAYMENT}


def test_the_order_page_never_expires_an_order_on_an_answer_older_than_its_view(banq_api):
    order, attempt = order_with_attempt()
    _stale(order)
    asked = timezone.now() - timedelta(seconds=1)  # the confirm asked banq a second ago
    BanqPayment.objects.filter(pk=attempt.pk).update(check_claimed_at=asked, checked_at=asked)
    client = Client()
    session = client.session
    session_grant_order(session=session, order=order)
    session.save()

    body = client.get(f"/orders/{order.public_id}/status").json()

    assert api_calls(banq_api) == []  # within BANQ_RECHECK_MIN_INTERVAL: not asked again
    assert (body["status"], body["states"]) == (
        "awaiting_payment",
        ["awaiting_payment", "checking"],
    )
    # The worker's expiry asks banq itself.
    add_payment(banq_api, _remote(order, "created"))
    assert order_expire(order=order) == EndResult.DONE
