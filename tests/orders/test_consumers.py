"""The order status socket: who may join, what it sends on connect and on change."""

import asyncio
from decimal import Decimal

import pytest
from channels.routing import URLRouter
from channels.sessions import SessionMiddlewareStack
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from orders import consumers
from orders.access import order_access_key, session_grant_order
from orders.models import Order
from orders.routing import websocket_urlpatterns
from orders.services import order_mark_paid, order_set_status

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

application = SessionMiddlewareStack(URLRouter(websocket_urlpatterns))


def make_order(number: str) -> Order:
    return Order.objects.create(
        number=number,
        email="shopper@example.com",
        name="Shopper",
        subtotal=Decimal("19.90"),
        total=Decimal("19.90"),
    )


def session_for(*orders: Order) -> str:
    session = SessionStore()
    for order in orders:
        session_grant_order(session=session, order=order)
    session.save()
    return session.session_key


def communicator(order: Order, session_key: str | None = None, query: str = ""):
    headers = []
    if session_key:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()))
    path = f"/ws/orders/{order.public_id}/" + (f"?{query}" if query else "")
    return WebsocketCommunicator(application, path, headers=headers)


async def sync(fn, *args, **kwargs):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(fn)(*args, **kwargs)


async def test_stranger_is_refused():
    order = await sync(make_order, "SF-1")
    other = await sync(make_order, "SF-2")
    stranger_session = await sync(session_for, other)
    comm = communicator(order, stranger_session)
    connected, code = await comm.connect()
    assert connected is False
    assert code == 4404
    comm_no_session = communicator(order)
    connected, _ = await comm_no_session.connect()
    assert connected is False


async def test_unknown_or_malformed_id_is_refused_like_a_stranger():
    order = await sync(make_order, "SF-3")
    session_key = await sync(session_for, order)
    for path in ("/ws/orders/not-a-uuid/", "/ws/orders/00000000-0000-0000-0000-000000000000/"):
        comm = WebsocketCommunicator(
            application,
            path,
            headers=[(b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}".encode())],
        )
        connected, code = await comm.connect()
        assert (connected, code) == (False, 4404)


async def test_owner_gets_current_status_on_connect():
    order = await sync(make_order, "SF-4")
    await sync(
        order_set_status, order=order, status=Order.Status.AWAITING_PAYMENT, source="shopper"
    )
    comm = communicator(order, await sync(session_for, order))
    connected, _ = await comm.connect()
    assert connected
    message = await comm.receive_json_from(timeout=2)
    assert message["status"] == "awaiting_payment"
    assert message["paid"] is False
    assert message["number"] == "SF-4"
    await comm.disconnect()


async def test_signed_key_in_query_admits_without_session():
    order = await sync(make_order, "SF-5")
    key = await sync(order_access_key, order=order)
    comm = communicator(order, query=f"key={key}")
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from(timeout=2))["status"] == "pending"
    await comm.disconnect()
    forged = communicator(order, query=f"key={key[:-2]}xx")
    connected, _ = await forged.connect()
    assert connected is False


async def test_a_key_that_does_not_fit_still_lets_the_owners_session_in():
    order = await sync(make_order, "SF-11")
    other = await sync(make_order, "SF-12")
    others_key = await sync(order_access_key, order=other)
    owner = communicator(order, await sync(session_for, order), query=f"key={others_key}")
    stranger = communicator(order, query=f"key={others_key}")

    owner_connected, _ = await owner.connect()
    stranger_connected, code = await stranger.connect()

    assert owner_connected
    assert (await owner.receive_json_from(timeout=2))["number"] == "SF-11"
    assert (stranger_connected, code) == (False, 4404)
    await owner.disconnect()


async def test_a_valid_key_of_an_order_that_is_gone_is_refused_like_an_unknown_id():
    order = await sync(make_order, "SF-13")
    key = await sync(order_access_key, order=order)
    await sync(Order.objects.filter(pk=order.pk).delete)

    connected, code = await communicator(order, query=f"key={key}").connect()

    assert (connected, code) == (False, 4404)


async def test_pages_opening_together_share_their_order_reads(monkeypatch):
    orders = [await sync(make_order, f"SF-2{n}") for n in range(8)]
    keys = [await sync(order_access_key, order=o) for o in orders]
    batches = []
    read = consumers._orders_by_public_id

    async def counted(public_ids):
        batches.append(len(public_ids))
        return await read(public_ids)

    monkeypatch.setattr(consumers, "_orders_by_public_id", counted)
    pages = [communicator(o, query=f"key={k}") for o, k in zip(orders, keys, strict=True)]

    results = await asyncio.gather(*(page.connect() for page in pages))
    numbers = [(await page.receive_json_from(timeout=2))["number"] for page in pages]

    assert [connected for connected, _ in results] == [True] * 8
    assert numbers == [o.number for o in orders]
    assert sum(batches) == 8
    assert len(batches) < 8  # read together, not one query per page
    for page in pages:
        await page.disconnect()


async def test_a_failed_read_reaches_every_page_waiting_and_the_next_read_works(monkeypatch):
    orders = [await sync(make_order, f"SF-3{n}") for n in range(3)]
    reads = consumers.OrderReads()
    real = consumers._orders_by_public_id
    failing = True

    async def flaky(public_ids):
        await asyncio.sleep(0)
        if failing:
            raise ConnectionError("database gone")
        return await real(public_ids)

    monkeypatch.setattr(consumers, "_orders_by_public_id", flaky)

    outcomes = await asyncio.gather(
        *(reads.get(o.public_id) for o in orders), return_exceptions=True
    )
    failing = False
    again = await reads.get(orders[0].public_id)

    assert [type(x) for x in outcomes] == [ConnectionError] * 3
    assert again.pk == orders[0].pk
    assert reads.reading is False


async def test_payment_completed_before_connect_is_not_missed():
    order = await sync(make_order, "SF-6")
    await sync(
        order_set_status, order=order, status=Order.Status.AWAITING_PAYMENT, source="shopper"
    )
    await sync(order_mark_paid, order=order, payment_reference="pay-6", source="webhook")
    comm = communicator(order, await sync(session_for, order))
    connected, _ = await comm.connect()
    assert connected
    message = await comm.receive_json_from(timeout=2)
    assert message["status"] == "paid"
    assert message["paid"] is True
    assert message["payment_reference"] == "pay-6"
    await comm.disconnect()


async def test_paid_transition_reaches_every_socket_of_the_order_and_no_other():
    order = await sync(make_order, "SF-7")
    other = await sync(make_order, "SF-8")
    await sync(
        order_set_status, order=order, status=Order.Status.AWAITING_PAYMENT, source="shopper"
    )
    session_key = await sync(session_for, order, other)
    first, second = communicator(order, session_key), communicator(order, session_key)
    bystander = communicator(other, session_key)
    for comm in (first, second, bystander):
        connected, _ = await comm.connect()
        assert connected
        await comm.receive_json_from(timeout=2)  # the status sent on connect

    await sync(order_mark_paid, order=order, payment_reference="pay-7", source="webhook")

    for comm in (first, second):
        message = await comm.receive_json_from(timeout=2)
        assert message["status"] == "paid"
        assert message["order"] == str(order.public_id)
    assert await bystander.receive_nothing(timeout=0.3)
    for comm in (first, second, bystander):
        await comm.disconnect()


async def test_garbage_frames_do_not_kill_the_socket():
    order = await sync(make_order, "SF-9")
    comm = communicator(order, await sync(session_for, order))
    connected, _ = await comm.connect()
    assert connected
    await comm.receive_json_from(timeout=2)
    await comm.send_to(text_data="not json {")
    await comm.send_to(bytes_data=b"\x00\x01")
    await comm.send_json_to({"type": "status"})
    assert (await comm.receive_json_from(timeout=2))["status"] == "pending"
    await comm.disconnect()


async def test_change_made_by_another_process_reaches_the_socket_through_the_watcher(settings):
    """Another process (the worker, a command) can't reach the in-memory layer: the process's
    watcher sees the order's updated_at move and sends the new status."""
    settings.ORDER_STATUS_RECHECK_SECONDS = 0.1
    order = await sync(make_order, "SF-10")
    comm = communicator(order, await sync(session_for, order))
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from(timeout=2))["status"] == "pending"
    # Written straight to the database as a service in another process would: no group message.
    await sync(
        Order.objects.filter(pk=order.pk).update,
        status=Order.Status.EXPIRED,
        updated_at=timezone.now(),
    )
    message = await comm.receive_json_from(timeout=2)
    assert message["status"] == "expired"
    # The same state is not sent again on the next re-checks.
    assert await comm.receive_nothing(timeout=0.4)
    await comm.disconnect()


async def test_full_asgi_app_refuses_a_foreign_origin_and_accepts_none_or_our_own():
    from storefront.asgi import application as full_app

    order = await sync(make_order, "SF-11")
    cookie = (
        b"cookie",
        f"{settings.SESSION_COOKIE_NAME}={await sync(session_for, order)}".encode(),
    )
    path = f"/ws/orders/{order.public_id}/"
    for headers, expected in (
        ([cookie, (b"origin", b"http://evil.example")], False),
        ([cookie, (b"origin", b"http://127.0.0.1:8000")], True),
        ([cookie], True),
    ):
        comm = WebsocketCommunicator(full_app, path, headers=headers)
        connected, _ = await comm.connect()
        assert connected is expected, headers
        if connected:
            assert (await comm.receive_json_from(timeout=2))["status"] == "pending"
            await comm.disconnect()
