"""Fulfilment, apart from payment: only a paid order ships, once, with one e-mail through the
outbox; the status JSON and the socket carry it."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from orders.access import order_access_key
from orders.exceptions import FulfilmentError
from orders.models import Order, OrderEvent, ShippingMethod
from orders.moments import format_moment
from orders.services import order_create_from_cart, order_mark_paid
from orders.services.fulfilment import order_mark_delivered, order_ship
from tests.factories import cart_with_items, order_create, product_create

pytestmark = pytest.mark.django_db

ADDRESS = {
    "shipping_name": "Ada Lovelace",
    "shipping_line1": "12 Analytical Row",
    "shipping_city": "London",
    "shipping_postal_code": "NW1 6XE",
    "shipping_country": "GB",
}
TRACKING = "https://track.example.com/parcel?id=JD0140&lang=en"


def shipping_order(*, paid: bool = True) -> Order:
    """An order for a mug placed through checkout with an address, paid unless told."""
    method = ShippingMethod.objects.create(name="Standard", price=Decimal("4.90"))
    mug = product_create(name="Mug", price="19.90", requires_shipping=True)
    order = order_create_from_cart(
        cart=cart_with_items(items=[(mug, 1)]),
        email="ada@example.com",
        name="Ada",
        shipping=ADDRESS,
        shipping_method=method.pk,
    )
    if paid:
        order, _ = order_mark_paid(order=order, payment_reference="pay-1", source="webhook")
    return order


def shipped_emails(mailoutbox) -> list:
    return [m for m in mailoutbox if "on its way" in m.subject]


def test_a_paid_order_ships_once_with_a_history_line_and_one_email(mailoutbox, run_tasks):
    order = shipping_order()
    run_tasks()  # the payment's e-mail
    mailoutbox.clear()

    shipped, changed = order_ship(
        order=order,
        carrier="DHL",
        tracking_number="JD0140",
        tracking_url=TRACKING,
        actor="merchant",
    )
    again, changed_again = order_ship(order=order, carrier="UPS", tracking_number="other")
    run_tasks()
    run_tasks()

    assert (changed, changed_again) == (True, False)
    order.refresh_from_db()
    assert order.fulfilment_status == Order.Fulfilment.SHIPPED
    assert (order.carrier, order.tracking_number, order.tracking_url) == ("DHL", "JD0140", TRACKING)
    assert order.shipped_at is not None
    assert order.status == Order.Status.PAID  # payment and fulfilment are apart
    (line,) = order.history.filter(kind=OrderEvent.Kind.SHIPPED)
    assert line.actor == "merchant"
    assert "DHL" in line.message
    assert "JD0140" in line.message
    (email,) = shipped_emails(mailoutbox)
    assert email.to == ["ada@example.com"]
    assert order.number in email.subject
    assert TRACKING in email.body  # plain text: the link is not HTML-escaped
    assert "12 Analytical Row" in email.body
    assert order.history.filter(kind=OrderEvent.Kind.EMAIL, data__email="shipped").count() == 1


@pytest.mark.parametrize(
    "status", [Order.Status.PENDING, Order.Status.AWAITING_PAYMENT, Order.Status.EXPIRED]
)
def test_an_unpaid_order_cannot_be_shipped(status, mailoutbox, run_tasks):
    order = shipping_order(paid=False)
    Order.objects.filter(pk=order.pk).update(status=status)

    with pytest.raises(FulfilmentError, match="not paid"):
        order_ship(order=order, carrier="DHL")
    run_tasks()

    order.refresh_from_db()
    assert order.fulfilment_status == Order.Fulfilment.UNFULFILLED
    assert order.carrier == ""
    assert not order.history.filter(kind=OrderEvent.Kind.SHIPPED).exists()
    assert shipped_emails(mailoutbox) == []


def test_a_cancelled_order_paid_afterwards_cannot_be_shipped(mailoutbox, run_tasks):
    order = shipping_order(paid=False)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
    order.refresh_from_db()
    order, _ = order_mark_paid(order=order, payment_reference="late", source="webhook")
    assert order.refund_due

    with pytest.raises(FulfilmentError, match="cancelled"):
        order_ship(order=order, carrier="DHL")

    order.refresh_from_db()
    assert order.fulfilment_status == Order.Fulfilment.UNFULFILLED


def test_an_order_with_nothing_to_ship_cannot_be_shipped():
    order = order_create(status=Order.Status.PAID, paid_at=timezone.now())

    with pytest.raises(FulfilmentError, match="nothing to ship"):
        order_ship(order=order, carrier="DHL")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://track.example.com/1",
        "/relative/path",
        "track.example.com",
        "https://",
        "https://track.example.com/\x00",
        "https://t.example.com/" + "a" * 500,
    ],
)
def test_a_tracking_url_must_be_http_or_https(url):
    order = shipping_order()

    with pytest.raises(FulfilmentError) as caught:
        order_ship(order=order, carrier="DHL", tracking_url=url)

    assert caught.value.field == "tracking_url"
    order.refresh_from_db()
    assert order.fulfilment_status == Order.Fulfilment.UNFULFILLED


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"carrier": ""}, "carrier"),
        ({"carrier": "D\x00HL"}, "carrier"),
        ({"carrier": "x" * 101}, "carrier"),
        ({"carrier": "DHL", "tracking_number": "1\n2"}, "tracking_number"),
    ],
)
def test_bad_shipment_details_are_refused(fields, field):
    order = shipping_order()

    with pytest.raises(FulfilmentError) as caught:
        order_ship(order=order, **fields)

    assert caught.value.field == field
    assert not order.history.filter(kind=OrderEvent.Kind.SHIPPED).exists()


def test_delivered_only_after_shipped_and_once(mailoutbox, run_tasks):
    order = shipping_order()
    with pytest.raises(FulfilmentError, match="not been shipped"):
        order_mark_delivered(order=order)

    order_ship(order=order, carrier="DHL")
    _, first = order_mark_delivered(order=order)
    _, second = order_mark_delivered(order=order)

    assert (first, second) == (True, False)
    order.refresh_from_db()
    assert order.fulfilment_status == Order.Fulfilment.DELIVERED
    assert order.delivered_at is not None
    assert order.history.filter(kind=OrderEvent.Kind.DELIVERED).count() == 1


def test_the_status_json_carries_the_fulfilment_and_keeps_its_keys(client):
    order = shipping_order()
    url = f"/orders/{order.public_id}/status?key={order_access_key(order=order)}"

    before = client.get(url).json()
    order_ship(order=order, carrier="DHL", tracking_number="JD0140", tracking_url=TRACKING)
    after = client.get(url).json()

    for key in ("order", "number", "status", "paid", "paid_at", "payable", "states", "total"):
        assert key in after
    assert after["status"] == "paid"
    assert after["paid"] is True
    assert before["fulfilment"]["status"] == "unfulfilled"
    assert before["fulfilment"]["tracking_url"] is None
    fulfilment = after["fulfilment"]
    assert fulfilment["status"] == "shipped"
    assert fulfilment["status_display"] == "Shipped"
    assert (fulfilment["carrier"], fulfilment["tracking_number"]) == ("DHL", "JD0140")
    assert fulfilment["tracking_url"] == TRACKING
    assert fulfilment["shipped_at"]
    # As the page writes it, in the store's zone, named; shipped_at stays ISO 8601.
    order.refresh_from_db()
    assert fulfilment["shipped_at"] == order.shipped_at.isoformat()
    assert fulfilment["shipped_at_display"] == format_moment(order.shipped_at)
    assert fulfilment["shipped_at_display"].endswith(" UTC")
    page = client.get(url.replace("/status", "/")).content.decode()
    assert fulfilment["shipped_at_display"] in page


def test_the_order_page_shows_shipped_with_the_tracking_link(client):
    order = shipping_order()
    order_ship(order=order, carrier="DHL", tracking_number="JD0140", tracking_url=TRACKING)

    page = client.get(
        f"/orders/{order.public_id}/?key={order_access_key(order=order)}"
    ).content.decode()

    assert "data-fulfilment-status>Shipped<" in page
    assert 'href="https://track.example.com/parcel?id=JD0140&amp;lang=en"' in page
    assert "JD0140" in page


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ships_make_one_change_and_one_email(mailoutbox, run_tasks):
    order = shipping_order()
    DBTaskResult.objects.all().delete()  # the payment's e-mail task: not what is counted
    barrier = threading.Barrier(2)
    results: list[bool] = []
    errors: list[Exception] = []

    def ship(carrier: str) -> None:
        try:
            barrier.wait()
            _, changed = order_ship(
                order=Order.objects.get(pk=order.pk), carrier=carrier, tracking_number=carrier
            )
            results.append(changed)
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ship, args=(name,)) for name in ("DHL", "UPS")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(results) == [False, True]
    assert order.history.filter(kind=OrderEvent.Kind.SHIPPED).count() == 1
    assert DBTaskResult.objects.count() == 1  # one e-mail task enqueued
    run_tasks()
    assert len(shipped_emails(mailoutbox)) == 1
    order.refresh_from_db()
    assert order.carrier == order.tracking_number  # one ship's details, whole


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_open_pages_socket_hears_the_order_ship():
    from channels.db import database_sync_to_async
    from channels.routing import URLRouter
    from channels.sessions import SessionMiddlewareStack
    from channels.testing import WebsocketCommunicator

    from orders.routing import websocket_urlpatterns

    order = await database_sync_to_async(shipping_order)()
    key = order_access_key(order=order)
    socket = WebsocketCommunicator(
        SessionMiddlewareStack(URLRouter(websocket_urlpatterns)),
        f"/ws/orders/{order.public_id}/?key={key}",
    )
    connected, _ = await socket.connect()
    assert connected
    first = await socket.receive_json_from(timeout=5)
    assert first["fulfilment"]["status"] == "unfulfilled"

    await database_sync_to_async(order_ship)(
        order=order, carrier="DHL", tracking_number="JD0140", tracking_url=TRACKING
    )

    pushed = await socket.receive_json_from(timeout=5)
    assert pushed["fulfilment"]["status"] == "shipped"
    assert pushed["fulfilment"]["tracking_url"] == TRACKING
    await socket.disconnect()


def test_an_expired_orders_page_does_not_promise_to_ship(client):
    order = shipping_order(paid=False)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.EXPIRED)

    page = client.get(
        f"/orders/{order.public_id}/?key={order_access_key(order=order)}"
    ).content.decode()

    assert "data-fulfilment-line hidden" in page
    assert "12 Analytical Row" in page  # the address is still shown


def test_an_order_refunded_in_full_cannot_be_shipped_a_partial_refund_can():
    from orders.services.refunds import order_refund_record

    refunded, partly = shipping_order(), shipping_order()
    order_refund_record(order=refunded, amount=refunded.total, reason="Returned", actor="m")
    order_refund_record(order=partly, amount="4.90", reason="Shipping waived", actor="m")

    with pytest.raises(FulfilmentError, match="refunded in full"):
        order_ship(order=refunded, carrier="DHL")
    _, changed = order_ship(order=partly, carrier="DHL")

    assert changed is True
    refunded.refresh_from_db()
    assert refunded.fulfilment_status == Order.Fulfilment.UNFULFILLED


def test_the_page_of_an_order_refunded_before_it_shipped_does_not_promise_to_ship(client):
    from orders.services.refunds import order_refund_record

    order = shipping_order()
    order_refund_record(order=order, amount=order.total, reason="Out of stock", actor="m")

    page = client.get(
        f"/orders/{order.public_id}/?key={order_access_key(order=order)}"
    ).content.decode()

    assert "data-fulfilment-line hidden" in page


def test_the_payment_email_shows_the_shipping_line_method_and_address(mailoutbox, run_tasks):
    shipping_order()

    run_tasks()

    (email,) = [m for m in mailoutbox if "payment received" in m.subject]
    assert "Shipping (Standard)  4.90 USD" in email.body
    assert "Total paid: 24.80 USD" in email.body
    assert "We will ship it by Standard to:" in email.body
    assert "12 Analytical Row" in email.body


def test_correcting_the_tracking_details_writes_history_and_sends_no_email(mailoutbox, run_tasks):
    from orders.services.fulfilment import order_tracking_correct

    order = shipping_order()
    with pytest.raises(FulfilmentError, match="not been shipped"):
        order_tracking_correct(order=order, carrier="DHL")
    order_ship(order=order, carrier="DHL", tracking_number="JD0104")
    run_tasks()
    mailoutbox.clear()

    _, changed = order_tracking_correct(
        order=order, carrier="DHL", tracking_number="JD0140", tracking_url=TRACKING
    )
    _, again = order_tracking_correct(
        order=order, carrier="DHL", tracking_number="JD0140", tracking_url=TRACKING
    )
    run_tasks()

    assert (changed, again) == (True, False)
    order.refresh_from_db()
    assert (order.tracking_number, order.tracking_url) == ("JD0140", TRACKING)
    assert order.fulfilment_status == Order.Fulfilment.SHIPPED
    (note,) = order.history.filter(data__has_key="tracking_corrected")
    assert note.data["tracking_corrected"]["before"] == ["DHL", "JD0104", ""]
    assert order.history.filter(kind=OrderEvent.Kind.SHIPPED).count() == 1
    assert mailoutbox == []
    with pytest.raises(FulfilmentError):
        order_tracking_correct(order=order, carrier="DHL", tracking_url="javascript:alert(1)")
