"""Cancelling an unpaid order: by the shopper (``POST /orders/<id>/cancel``, after a
confirmation step on the order page), by ``manage.py cancel_orders`` and in the admin. banq is
asked first; while it can't be, nothing is cancelled and everyone is told so."""

from __future__ import annotations

from io import StringIO
from urllib.parse import quote

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.test import Client

from orders.access import order_access_key, order_signed_url, session_grant_order
from orders.models import Order, OrderEvent
from tests.factories import order_create
from tests.support.banq_api import add_payment, payment_payload
from tests.webhooks.support import order_with_attempt

pytestmark = pytest.mark.django_db

UNREACHABLE = "banq can't be reached right now"


def owner_client(order: Order, **kwargs) -> Client:
    client = Client(**kwargs)
    session = client.session
    session_grant_order(session=session, order=order)
    session.save()
    return client


def cancel_url(order: Order) -> str:
    return f"/orders/{order.public_id}/cancel"


def _banq_down(banq_api, order: Order) -> None:
    add_payment(
        banq_api,
        {"error": "down"},
        payment_id=order.banq_payments.get().banq_payment_id,
        status=503,
    )


# --- the shopper -------------------------------------------------------------------------------


def test_the_order_page_offers_to_cancel_an_unpaid_order_behind_a_confirmation_step():
    order = order_create(status=Order.Status.AWAITING_PAYMENT)

    html = owner_client(order).get(order.get_absolute_url()).content.decode()
    by_link = Client().get(order_signed_url(order=order)).content.decode()

    assert '<details class="cancel-order" data-when="pending awaiting_payment failed">' in html
    assert "<summary>Cancel this order</summary>" in html
    assert f'action="{cancel_url(order)}"' in html
    assert "Yes, cancel this order" in html
    assert f'action="{cancel_url(order)}?key={quote(order_access_key(order=order))}"' in by_link


def test_a_paid_order_page_offers_no_cancel():
    order = order_create(status=Order.Status.AWAITING_PAYMENT)
    order_paid = order_create(status=Order.Status.PAID, paid_at=order.created_at)

    html = owner_client(order_paid).get(order_paid.get_absolute_url()).content.decode()

    assert '<details class="cancel-order" data-when="pending awaiting_payment failed" hidden>' in (
        html
    )


def test_the_owner_cancels_and_is_told_so_on_the_page():
    order = order_create(status=Order.Status.AWAITING_PAYMENT)
    client = owner_client(order)

    answer = client.post(cancel_url(order), follow=True)

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert answer.redirect_chain[-1][0] == order.get_absolute_url()
    page = answer.content.decode()
    assert f"Your order {order.number} was cancelled. Nothing was charged." in page
    assert order.history.filter(to_status="cancelled", source="shopper").exists()


def test_a_signed_link_visitor_may_cancel_and_a_stranger_may_not():
    order = order_create(status=Order.Status.PENDING)
    stranger = Client()

    assert stranger.post(cancel_url(order)).status_code == 404
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING

    key = order_access_key(order=order)
    answer = Client().post(f"{cancel_url(order)}?key={key}")

    assert answer.status_code == 302
    assert f"key={key}" in answer["Location"]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_the_cancel_needs_the_csrf_token():
    order = order_create(status=Order.Status.AWAITING_PAYMENT)

    answer = owner_client(order, enforce_csrf_checks=True).post(cancel_url(order))

    assert answer.status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_a_paid_order_is_not_cancelled():
    order = order_create(status=Order.Status.PAID, paid_at=order_create().created_at)

    answer = owner_client(order).post(cancel_url(order), HTTP_ACCEPT="application/json")

    assert answer.status_code == 409
    assert answer.json()["cancel"]["result"] == "not_allowed"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_while_banq_is_down_the_shopper_is_told_and_nothing_is_cancelled(banq_api):
    order, _ = order_with_attempt()
    _banq_down(banq_api, order)
    client = owner_client(order)

    answer = client.post(cancel_url(order), HTTP_ACCEPT="application/json")

    assert answer.status_code == 409
    body = answer.json()
    assert body["cancel"]["result"] == "unreachable"
    assert UNREACHABLE in body["cancel"]["message"]
    assert (body["status"], body["banq_reachable"]) == ("awaiting_payment", False)
    assert "unreachable" in body["states"]
    page = client.get(order.get_absolute_url()).content.decode()
    assert '<div class="message message-warning" data-when="unreachable">' in page
    assert UNREACHABLE in page


def test_when_banq_finds_the_payment_the_shopper_is_told_the_order_is_paid(banq_api):
    order, _ = order_with_attempt()
    add_payment(
        banq_api,
        payment_payload(status="completed", funds=order.total, external_order_code=order.number),
    )
    client = owner_client(order)

    answer = client.post(cancel_url(order))

    texts = [str(m) for m in get_messages(answer.wsgi_request)]
    assert texts == [
        "Your order was not cancelled: banq says your payment went through, so it is paid."
    ]
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


# --- manage.py cancel_orders -------------------------------------------------------------------


def test_the_command_cancels_the_orders_it_is_given():
    first = order_create(status=Order.Status.PENDING)
    second = order_create(status=Order.Status.FAILED)
    out = StringIO()

    call_command("cancel_orders", first.number, second.number, stdout=out)

    assert f"{first.number}: cancelled" in out.getvalue()
    assert "2 of 2 order(s) cancelled." in out.getvalue()
    assert {o.status for o in Order.objects.all()} == {Order.Status.CANCELLED}
    assert OrderEvent.objects.filter(source="command", to_status="cancelled").count() == 2


def test_the_command_says_what_it_could_not_cancel_and_exits_1(banq_api):
    paid = order_create(status=Order.Status.PAID, paid_at=order_create().created_at)
    open_order, _ = order_with_attempt()
    _banq_down(banq_api, open_order)
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="3 order"):
        call_command(
            "cancel_orders", paid.number, open_order.number, "SF-NOPE", stdout=out, stderr=err
        )

    assert f"{paid.number}: not cancelled: it is paid" in out.getvalue()
    assert f"{open_order.number}: not cancelled: {UNREACHABLE}" in out.getvalue()
    assert "SF-NOPE: no such order" in err.getvalue()
    open_order.refresh_from_db()
    assert open_order.status == Order.Status.AWAITING_PAYMENT


# --- the admin -------------------------------------------------------------------------------


def test_the_admin_shows_an_order_banq_cannot_be_asked_about(admin_client, banq_api):
    order, _ = order_with_attempt()
    _banq_down(banq_api, order)

    answer = admin_client.post(
        "/admin/orders/order/",
        {"action": "cancel_orders", "_selected_action": [order.pk]},
        follow=True,
    )

    texts = " ".join(str(m) for m in get_messages(answer.wsgi_request))
    assert f"Not cancelled: {UNREACHABLE}" in texts
    listing = admin_client.get("/admin/orders/order/").content.decode()
    assert '<span class="banq-unreachable"' in listing
    assert (
        UNREACHABLE in admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    )
