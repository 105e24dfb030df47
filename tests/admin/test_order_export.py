"""The admin's CSV exports: the order list's filters and search honoured, the export action,
streamed a chunk at a time (also under ASGI), formulas neutralised."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import exports
from orders.exports import csv_cell
from orders.models import Installment, Order
from orders.services.fulfilment import order_ship
from orders.services.refunds import order_refund_record
from tests.factories import order_create, product_create, recurring_order_create
from tests.support.exports import body, many_orders, read_csv

pytestmark = pytest.mark.django_db

EXPORT_URL = "/admin/orders/order/export/{}.csv"


def test_admin_export_has_the_bookkeeper_columns(admin_client):
    mug = product_create(name="Mug", price="12.00")
    order = order_create(
        status=Order.Status.PAID,
        items=[(mug, 2)],
        paid_at=timezone.now(),
        payment_reference="pay_123",
        name="Sam Shopper",
        email="sam@example.com",
    )

    response = admin_client.get(EXPORT_URL.format("orders"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    assert "no-store" in response["Cache-Control"]
    [row] = read_csv(body(response))
    assert row["number"] == order.number
    assert row["payment status"] == "paid"
    assert row["e-mail"] == "sam@example.com"
    assert row["name"] == "Sam Shopper"
    assert row["lines"] == "2 x Mug @ 12.00"
    assert row["total"] == "24.00"
    assert row["currency"] == "USD"
    assert row["banq payment id"] == "pay_123"
    assert row["created"] == csv_cell(order.created_at)
    assert row["paid"] == csv_cell(order.paid_at)
    for header in ("fulfilment status", "shipping address", "shipping", "refunded"):
        assert header in row


def test_hostile_values_reach_the_sheet_as_text(admin_client):
    order_create(name='=HYPERLINK("http://evil.example","click")', email="x@example.com")

    [row] = read_csv(body(admin_client.get(EXPORT_URL.format("orders"))))

    assert row["name"] == '\'=HYPERLINK("http://evil.example","click")'


def test_admin_export_honours_the_list_filters_and_search(admin_client):
    paid_alice = order_create(status=Order.Status.PAID, email="alice@example.com")
    order_create(status=Order.Status.PENDING, email="alice@example.com")
    order_create(status=Order.Status.PAID, email="bob@example.com")

    response = admin_client.get(
        EXPORT_URL.format("orders"), {"status__exact": "paid", "q": "alice"}
    )

    assert [row["number"] for row in read_csv(body(response))] == [paid_alice.number]


def test_admin_export_takes_every_page_of_the_list(admin_client):
    many_orders(60)  # the list shows 50 a page

    response = admin_client.get(EXPORT_URL.format("orders"), {"status__exact": "paid", "p": "2"})

    assert len(read_csv(body(response))) == 60


def test_order_list_links_to_the_export_with_its_query_string(admin_client):
    order_create(status=Order.Status.PAID)

    response = admin_client.get("/admin/orders/order/", {"status__exact": "paid", "q": "x"})

    html = response.content.decode()
    assert 'href="/admin/orders/order/export/orders.csv?q=x&amp;status__exact=paid"' in html
    assert 'href="/admin/orders/order/export/installments.csv?q=x&amp;status__exact=paid"' in html
    assert 'href="/admin/orders/order/export/refunds.csv?q=x&amp;status__exact=paid"' in html


def test_an_unknown_filter_goes_back_to_the_list(admin_client):
    response = admin_client.get(EXPORT_URL.format("orders"), {"no_such_field": "1"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/orders/order/?e=1"


def test_an_unknown_export_is_a_404(admin_client):
    assert admin_client.get(EXPORT_URL.format("nothing")).status_code == 404


def test_the_export_needs_the_view_permission(shopper_client):
    order_create()

    response = shopper_client.get(EXPORT_URL.format("orders"))

    assert response.status_code in (302, 403)
    assert not isinstance(response, StreamingHttpResponse)


def test_export_action_exports_the_selected_orders(admin_client):
    chosen = order_create()
    order_create()

    response = admin_client.post(
        "/admin/orders/order/",
        {"action": "export_orders_csv", "_selected_action": [chosen.pk]},
    )

    assert isinstance(response, StreamingHttpResponse)
    assert [row["number"] for row in read_csv(body(response))] == [chosen.number]


def test_export_action_with_select_all_exports_the_filtered_list(admin_client):
    paid = order_create(status=Order.Status.PAID)
    order_create(status=Order.Status.PENDING)

    response = admin_client.post(
        "/admin/orders/order/?status__exact=paid",
        {"action": "export_orders_csv", "select_across": "1", "_selected_action": [paid.pk]},
    )

    assert [row["number"] for row in read_csv(body(response))] == [paid.number]


def test_export_streams_a_chunk_at_a_time(admin_client, monkeypatch):
    """Fails if the rows are built in memory: nothing is read before the stream is, and each
    piece of the stream comes from its own bounded query (plus one for the chunk's lines)."""
    monkeypatch.setattr(exports, "EXPORT_CHUNK_SIZE", 10)
    many_orders(35, lines=3)

    response = admin_client.get(EXPORT_URL.format("orders"))

    assert isinstance(response, StreamingHttpResponse)
    stream = iter(response.streaming_content)
    with CaptureQueriesContext(connection) as captured:
        assert next(stream).startswith(b"number,created,paid")
    assert len(captured) == 0  # the header costs nothing
    sizes, queries = [], []
    while True:
        with CaptureQueriesContext(connection) as captured:
            piece = next(stream, None)
        if piece is None:
            break
        sizes.append(piece.count(b"\r\n"))
        queries.append(len(captured))
    assert sizes == [10, 10, 10, 5]
    assert queries == [2, 2, 2, 2]  # the chunk's orders, then their lines


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_export_is_an_async_stream(
    async_client, django_user_model, monkeypatch
):
    """Served by the store (ASGI), the export is an async stream whose chunks are read in a
    worker thread one at a time: Django would read a sync stream whole before sending it."""

    @sync_to_async
    def arrange():
        admin = django_user_model.objects.create_superuser("boss", "b@example.com", "pw-boss-1")
        many_orders(7)
        return admin

    admin = await arrange()
    await async_client.aforce_login(admin)
    monkeypatch.setattr(exports, "EXPORT_CHUNK_SIZE", 3)

    response = await async_client.get(EXPORT_URL.format("orders"))

    assert response.is_async
    pieces = [piece async for piece in response.streaming_content]
    await sync_to_async(connections.close_all)()  # the connection arrange() opened

    assert len(pieces) == 1 + 3  # the header, then 3 + 3 + 1 rows
    rows = read_csv(b"".join(pieces).decode())
    assert sorted(row["number"] for row in rows) == [f"SF-BULK-{n:06d}" for n in range(7)]


def test_installments_export_holds_the_listed_orders_installments(admin_client):
    order = recurring_order_create(email="plan@example.com")
    subscription = order.subscription
    Installment.objects.create(
        subscription=subscription,
        number=1,
        status=Installment.Status.PAID,
        amount=Decimal("9.90"),
        currency="USD",
        transaction_id="tx-1",
        occurred_at=timezone.now(),
    )
    other = recurring_order_create(email="other@example.com")
    Installment.objects.create(
        subscription=other.subscription, number=1, status=Installment.Status.FAILED
    )

    response = admin_client.get(EXPORT_URL.format("installments"), {"q": "plan@example.com"})

    [row] = read_csv(body(response))
    assert row["order number"] == order.number
    assert row["installment"] == "2"
    assert row["status"] == "paid"
    assert row["amount"] == "9.90"
    assert row["transaction id"] == "tx-1"


def test_export_carries_the_shipping_address_method_and_fulfilment(admin_client):
    order = order_create(status=Order.Status.PAID, total="29.90", paid_at=timezone.now())
    Order.objects.filter(pk=order.pk).update(
        requires_shipping=True,
        shipping_name="Sam Shopper",
        shipping_line1="1 Harbour Road",
        shipping_city="Dublin",
        shipping_postal_code="D01 F5P2",
        shipping_country="IE",
        shipping_phone="+353 1 555 0100",
        shipping_method_name="Standard post",
        shipping_price=Decimal("4.90"),
        fulfilment_status=Order.Fulfilment.UNFULFILLED,
    )
    order_ship(order=order, carrier="An Post", tracking_number="RX123IE", actor="merchant")

    [row] = read_csv(body(admin_client.get(EXPORT_URL.format("orders"))))

    order.refresh_from_db()
    assert row["shipping address"] == "Sam Shopper, 1 Harbour Road, D01 F5P2 Dublin, Ireland"
    assert row["phone"] == "'+353 1 555 0100"  # a leading + would be a formula
    assert row["shipping method"] == "Standard post"
    assert row["shipping"] == "4.90"
    assert row["fulfilment status"] == "shipped"
    assert row["carrier"] == "An Post"
    assert row["tracking number"] == "RX123IE"
    assert row["shipped"] == csv_cell(order.shipped_at)


def _paid_order(**kwargs) -> Order:
    return order_create(status=Order.Status.PAID, paid_at=timezone.now(), **kwargs)


def test_export_carries_the_refunds_of_each_order(admin_client):
    partly = _paid_order(total="30.00")
    order_refund_record(order=partly, amount="10.00", reason="one mug broke", actor="merchant")
    whole = _paid_order(total="12.00")
    order_refund_record(order=whole, amount="12.00", reason="returned", actor="merchant")
    _paid_order(total="5.00")

    exported = read_csv(body(admin_client.get(EXPORT_URL.format("orders"))))
    rows = {row["number"]: row for row in exported}

    assert (rows[partly.number]["refunded"], rows[partly.number]["refund status"]) == (
        "10.00",
        "partially_refunded",
    )
    assert (rows[whole.number]["refunded"], rows[whole.number]["refund status"]) == (
        "12.00",
        "refunded",
    )
    assert [r["refunded"] for r in rows.values() if r["refund status"] == ""] == ["0.00"]


def test_refunds_export_holds_the_listed_orders_refunds(admin_client):
    alice = _paid_order(total="30.00", email="alice@example.com")
    order_refund_record(order=alice, amount="10.00", reason="=cmd|' /C calc'!A0", actor="merchant")
    order_refund_record(order=alice, amount="5.00", reason="late parcel", actor="merchant")
    bob = _paid_order(total="8.00", email="bob@example.com")
    order_refund_record(order=bob, amount="8.00", reason="returned", actor="merchant")

    response = admin_client.get(EXPORT_URL.format("refunds"), {"q": "alice"})

    rows = read_csv(body(response))
    assert [(r["order number"], r["amount"], r["payment refunded"]) for r in rows] == [
        (alice.number, "10.00", "order"),
        (alice.number, "5.00", "order"),
    ]
    assert rows[0]["reason"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["recorded by"] == "merchant"
    assert rows[0]["order total"] == "30.00"


def test_export_honours_the_paid_date_range_and_its_refunds_follow(admin_client):
    in_range = _paid_order(total="20.00")
    Order.objects.filter(pk=in_range.pk).update(paid_at=timezone.now() - timedelta(days=3))
    order_refund_record(order=in_range, amount="4.00", reason="scratched", actor="merchant")
    outside = _paid_order(total="9.00")
    order_refund_record(order=outside, amount="9.00", reason="returned", actor="merchant")
    day = (timezone.localdate() - timedelta(days=3)).isoformat()
    query = {"paid_at__range__gte": day, "paid_at__range__lte": day}

    orders = read_csv(body(admin_client.get(EXPORT_URL.format("orders"), query)))
    refunds = read_csv(body(admin_client.get(EXPORT_URL.format("refunds"), query)))

    assert [row["number"] for row in orders] == [in_range.number]
    assert [(row["order number"], row["amount"]) for row in refunds] == [(in_range.number, "4.00")]
