"""payment_link_generate: one banq payment per order and total, order to awaiting_payment."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from banq.exceptions import BanqError, BanqRequestError, BanqUnavailable
from banq.models import BanqPayment
from banq.services import payment_link_generate
from orders.exceptions import OrderNotPayable
from orders.models import Order
from tests.factories import order_create
from tests.support.banq_api import (
    PAYMENT_ID,
    add_json,
    add_paid_link,
    add_payment,
    api_calls,
    banq_api_url,
    paid_link_payload,
    payment_payload,
)

pytestmark = pytest.mark.django_db


def test_creates_attempt_and_moves_order_to_awaiting_payment(banq_api, settings):
    order = order_create(total="19.99")
    add_paid_link(banq_api)

    attempt = payment_link_generate(order=order)

    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert attempt.pk is not None
    assert attempt.order == order
    assert attempt.banq_payment_id == PAYMENT_ID
    assert attempt.url == "https://link.banq.com/4x1t09WiOjb"
    assert attempt.funds == Decimal("19.99")
    assert attempt.frequency == "once"
    assert attempt.status == BanqPayment.Status.CREATED
    assert attempt.last_payload == {"data": {"id": PAYMENT_ID, "url": attempt.url}}
    body = json.loads(api_calls(banq_api)[0].request.body, parse_float=Decimal)
    assert body["funds"] == Decimal("19.99")
    assert body["externalOrderCode"] == order.number
    assert body["frequency"] == "once"
    assert body["destination"] == {"banqGuid": settings.BANQ_MERCHANT_GUID}
    assert order.number in body["comment"]
    assert settings.STORE_NAME in body["comment"]


def test_second_call_reuses_the_open_link(banq_api):
    order = order_create(total="19.99")
    add_paid_link(banq_api)

    first = payment_link_generate(order=order)
    second = payment_link_generate(order=order)

    assert second.pk == first.pk
    assert len(api_calls(banq_api)) == 1
    assert BanqPayment.objects.filter(order=order).count() == 1


def test_a_different_total_supersedes_the_old_link(banq_api):
    order = order_create(total="19.99")
    add_paid_link(banq_api)
    first = payment_link_generate(order=order)
    Order.objects.filter(pk=order.pk).update(total=Decimal("25.00"))
    order.refresh_from_db()
    banq_api.replace(
        "POST",
        api_calls(banq_api)[0].request.url,
        status=201,
        json=paid_link_payload(payment_id="second-id", url="https://link.banq.com/second"),
    )

    second = payment_link_generate(order=order)

    first.refresh_from_db()
    assert first.status == BanqPayment.Status.SUPERSEDED
    assert second.pk != first.pk
    assert second.funds == Decimal("25.00")
    assert second.url == "https://link.banq.com/second"
    assert len(api_calls(banq_api)) == 2


def _stale(attempt: BanqPayment) -> None:
    """banq's last word on the attempt is older than BANQ_LINK_FRESH_SECONDS."""
    BanqPayment.objects.filter(pk=attempt.pk).update(
        checked_at=timezone.now() - timedelta(minutes=5)
    )


def test_a_link_banq_spoke_about_long_ago_is_rechecked_and_reused_while_open(banq_api):
    order = order_create(total="19.99")
    add_paid_link(banq_api)
    first = payment_link_generate(order=order)
    _stale(first)
    add_payment(banq_api, payment_payload(status="created", external_order_code=order.number))

    second = payment_link_generate(order=order)

    assert second.pk == first.pk
    assert [c.request.method for c in api_calls(banq_api)] == ["POST", "GET"]


@pytest.mark.parametrize("status", ["failed", "cancelled", "expired"])
def test_a_link_banq_failed_is_never_offered_again(banq_api, status):
    order = order_create(total="19.99")
    add_paid_link(banq_api)
    first = payment_link_generate(order=order)
    _stale(first)
    add_payment(
        banq_api,
        payment_payload(
            status=status, fail_reason="InsufficientBalance", external_order_code=order.number
        ),
    )
    add_paid_link(banq_api, paid_link_payload(payment_id="fresh", url="https://link.banq.com/new"))

    second = payment_link_generate(order=order)

    first.refresh_from_db()
    order.refresh_from_db()
    assert first.status == BanqPayment.Status.FAILED
    assert second.pk != first.pk
    assert second.url == "https://link.banq.com/new"
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_a_link_banq_cannot_be_asked_about_is_not_handed_out(banq_api):
    order = order_create(total="19.99")
    add_paid_link(banq_api)
    first = payment_link_generate(order=order)
    _stale(first)
    add_payment(banq_api, {"error": "down"}, payment_id=first.banq_payment_id, status=503)

    with pytest.raises(BanqError):
        payment_link_generate(order=order)

    first.refresh_from_db()
    assert first.status == BanqPayment.Status.CREATED  # nothing known, nothing changed


def test_a_link_younger_than_a_second_is_handed_out_again_without_asking(banq_api, settings):
    assert settings.BANQ_LINK_FRESH_SECONDS == 1
    order = order_create(total="19.99")
    add_paid_link(banq_api)
    first = payment_link_generate(order=order)

    assert payment_link_generate(order=order).pk == first.pk
    assert [c.request.method for c in api_calls(banq_api)] == ["POST"]


def test_a_link_banq_completed_pays_the_order_instead(banq_api):
    order = order_create(total="19.99")
    add_paid_link(banq_api)
    first = payment_link_generate(order=order)
    _stale(first)
    add_payment(banq_api, payment_payload(status="completed", external_order_code=order.number))

    with pytest.raises(OrderNotPayable) as info:
        payment_link_generate(order=order)

    assert info.value.reason == "paid"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_handing_out_a_link_restarts_its_sweep_schedule(banq_api):
    order = order_create(total="19.99")
    add_paid_link(banq_api)
    before = timezone.now()

    attempt = payment_link_generate(order=order)

    attempt.refresh_from_db()
    assert attempt.check_anchor_at >= before
    assert attempt.check_count == 0
    first_delay = (attempt.next_check_at - attempt.check_anchor_at).total_seconds()
    assert first_delay == pytest.approx(10)


def test_failed_order_can_pay_again(banq_api):
    order = order_create(total="19.99", status=Order.Status.FAILED)
    add_paid_link(banq_api)
    payment_link_generate(order=order)
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


@pytest.mark.parametrize(
    ("status", "paid", "message"),
    [
        (Order.Status.PAID, True, "This order is already paid."),
        (Order.Status.CANCELLED, False, "cancelled"),
        (Order.Status.EXPIRED, False, "expired"),
    ],
)
def test_unpayable_orders_raise_without_calling_banq(banq_api, status, paid, message):
    order = order_create(status=status, paid_at=timezone.now() if paid else None)
    with pytest.raises(OrderNotPayable, match=message):
        payment_link_generate(order=order)
    assert api_calls(banq_api) == []
    assert not BanqPayment.objects.filter(order=order).exists()


def test_an_order_past_its_expiry_is_not_payable(banq_api, settings):
    settings.ORDER_EXPIRY_MINUTES = 30
    order = order_create()
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=31))
    order.refresh_from_db()
    with pytest.raises(OrderNotPayable) as info:
        payment_link_generate(order=order)
    assert info.value.reason == "expired"
    assert api_calls(banq_api) == []


def test_banq_failure_saves_nothing_and_keeps_the_order_pending(banq_api):
    order = order_create(total="19.99")
    add_json(banq_api, "POST", "/payments/get-paid-link", {"message": "down"}, status=503)
    with pytest.raises(BanqUnavailable):
        payment_link_generate(order=order)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert not BanqPayment.objects.filter(order=order).exists()


def test_banq_refusal_raises_request_error(banq_api):
    order = order_create(total="19.99")
    add_json(
        banq_api,
        "POST",
        "/payments/get-paid-link",
        {"error": {"code": "validation", "message": "bad destination"}},
        status=400,
    )
    with pytest.raises(BanqRequestError, match="bad destination"):
        payment_link_generate(order=order)
    assert not BanqPayment.objects.filter(order=order).exists()


def test_a_link_whose_placeholder_was_dropped_while_banq_answered_is_still_recorded(banq_api):
    order = order_create(total="19.99")

    def answer(request):
        # Another click took the placeholder for a dead worker's and dropped it meanwhile.
        BanqPayment.objects.filter(order=order, url="").delete()
        return (201, {"Content-Type": "application/json"}, json.dumps(paid_link_payload()))

    banq_api.add_callback("POST", banq_api_url("/payments/get-paid-link"), callback=answer)

    attempt = payment_link_generate(order=order)

    stored = BanqPayment.objects.get(order=order)
    assert (stored.pk, stored.url, stored.banq_payment_id) == (attempt.pk, attempt.url, PAYMENT_ID)
    assert stored.status == BanqPayment.Status.CREATED
    assert stored.next_check_at is not None


def test_a_stale_placeholder_from_a_dead_worker_is_ignored(banq_api):
    order = order_create(total="19.99")
    stale = BanqPayment.objects.create(order=order, funds=Decimal("19.99"))
    BanqPayment.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    add_paid_link(banq_api)

    attempt = payment_link_generate(order=order)

    assert attempt.url
    assert not BanqPayment.objects.filter(pk=stale.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_clicks_create_one_banq_payment(banq_api):
    import threading
    import time

    from django.db import connection

    order = order_create(total="19.99")

    def slow_link(request):
        time.sleep(0.3)  # banq is slow: the other clicks arrive while this one waits
        return (201, {}, json.dumps(paid_link_payload()))

    banq_api.add_callback(
        "POST",
        banq_api_url("/payments/get-paid-link"),
        callback=slow_link,
        content_type="application/json",
    )
    results: list = []
    errors: list = []
    barrier = threading.Barrier(4)

    def click():
        try:
            barrier.wait()
            results.append(payment_link_generate(order=Order.objects.get(pk=order.pk)).pk)
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(results)) == 1
    assert len(api_calls(banq_api)) == 1
    assert BanqPayment.objects.filter(order=order).count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_a_new_link_is_banq_answering_the_order_is_no_longer_unreachable(banq_api):
    order = order_create(total="19.99", status=Order.Status.FAILED)
    Order.objects.filter(pk=order.pk).update(provider_unreachable_since=timezone.now())
    add_paid_link(banq_api)

    payment_link_generate(order=order)

    order.refresh_from_db()
    assert order.provider_unreachable_since is None


def test_the_link_amount_includes_shipping_and_comes_from_the_order(banq_api):
    from orders.models import ShippingMethod
    from orders.services import order_create_from_cart
    from tests.factories import cart_with_items, product_create

    method = ShippingMethod.objects.create(name="Standard", price=Decimal("4.90"))
    mug = product_create(price="19.90", requires_shipping=True)
    order = order_create_from_cart(
        cart=cart_with_items(items=[(mug, 2)]),
        email="ada@example.com",
        name="Ada",
        shipping={
            "shipping_name": "Ada Lovelace",
            "shipping_line1": "12 Analytical Row",
            "shipping_city": "London",
            "shipping_postal_code": "NW1 6XE",
            "shipping_country": "GB",
        },
        shipping_method=method.pk,
    )
    ShippingMethod.objects.filter(pk=method.pk).update(price=Decimal("0.00"))  # after checkout
    add_paid_link(banq_api)

    attempt = payment_link_generate(order=order)

    body = json.loads(api_calls(banq_api)[0].request.body, parse_float=Decimal)
    assert body["funds"] == Decimal("44.70")  # 2 x 19.90 + 4.90 shipping
    assert attempt.funds == Decimal("44.70")
