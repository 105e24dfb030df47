"""The order page's live status socket: ``/ws/orders/<public_id>/``.

Only the browser session that owns the order (or one that opened its signed link, which grants the
session) may join; anyone else is refused during the handshake, exactly as for an unknown id.
On connect the current status is sent at once, after joining the group, so a payment completed
before the socket opened is not missed and none completed during the handshake is lost. Changes
made by other processes reach the socket through its group (a shared channel layer) and through
this process's watcher (``orders.watch``), which sends ``order.status`` messages like a push.

The page's socket carries its signed key, which signs the order's id alone: access is checked
before the order is read, and the reads of pages opening at the same moment go together in one
query (``OrderReads``). Without a valid key, the session is asked, as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import weakref
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from orders.access import order_get_accessible, parse_public_id, public_id_key_valid
from orders.models import Order
from orders.notifications import order_group_name, order_status_payload
from orders.watch import order_watcher

logger = logging.getLogger(__name__)

REFUSED = 4404  # close code for "no such order for you"


@database_sync_to_async
def _accessible_order(session, public_id: str, key: str | None) -> Order | None:
    # The session is only read here: no access is granted from the socket.
    return order_get_accessible(session=session, public_id=public_id, key=key)


class OrderReads:
    """The sockets' reads of orders by public id, coalesced: a read starts at once when none is
    running, and the ids asked for meanwhile are read together, in one query, when it ends. A
    burst of pages opening costs a few queries and thread hops instead of one of each per page
    (each hop to the database thread and back also waits for the GIL while the event loop is
    busy with the other handshakes), and a lone page waits for nothing. One per event loop."""

    _per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, OrderReads] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self) -> None:
        self.waiting: dict[uuid.UUID, list[asyncio.Future]] = {}
        self.reading = False
        self.reader: asyncio.Task | None = None  # held: the loop keeps only a weak reference

    @classmethod
    def for_this_loop(cls) -> OrderReads:
        loop = asyncio.get_running_loop()
        reads = cls._per_loop.get(loop)
        if reads is None:
            reads = cls._per_loop[loop] = cls()
        return reads

    async def get(self, public_id: uuid.UUID) -> Order | None:
        future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(public_id, []).append(future)
        if not self.reading:
            self.reading = True
            self.reader = asyncio.ensure_future(self._read_while_asked())
        return await future

    async def _read_while_asked(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, {}
                try:
                    found = await _orders_by_public_id(list(batch))
                except Exception as exc:  # every page waiting on this read hears of it
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                for public_id, futures in batch.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(found.get(public_id))
        finally:
            self.reading = False


@database_sync_to_async
def _orders_by_public_id(public_ids: list[uuid.UUID]) -> dict[uuid.UUID, Order]:
    return Order.objects.in_bulk(public_ids, field_name="public_id")


@database_sync_to_async
def _payload_of(order: Order) -> dict:
    # A recurring order's payload reads its plan and installments from the database.
    return order_status_payload(order)


@database_sync_to_async
def _status_payload(order_pk: int) -> dict | None:
    order = Order.objects.filter(pk=order_pk).first()
    return order_status_payload(order) if order else None


class OrderStatusConsumer(AsyncJsonWebsocketConsumer):
    """Pushes the order's status: at connect, and on every ``order.status`` message (a push from
    the service that changed the order, or this process's watcher)."""

    group_name: str | None = None
    order_pk: int | None = None
    last_sent: dict | None = None

    async def connect(self) -> None:
        public_id = self.scope["url_route"]["kwargs"].get("public_id", "")
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        key = (query.get("key") or [None])[0]
        parsed = parse_public_id(public_id)
        if parsed is not None and public_id_key_valid(public_id=parsed, key=key):
            # The page's own socket carries its signed key: access is settled without the order,
            # which is read with the other pages opening meanwhile.
            order = await OrderReads.for_this_loop().get(parsed)
        else:  # no key, or not this order's: the session may still own it
            order = await _accessible_order(self.scope.get("session"), public_id, None)
        if order is None:
            await self.close(code=REFUSED)
            return
        self.order_pk = order.pk
        self.group_name = order_group_name(order)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        payload = await _payload_of(order) if order.recurring else order_status_payload(order)
        await self.send_status(payload, force=True)
        order_watcher().watch(
            order_pk=order.pk, channel_name=self.channel_name, updated_at=order.updated_at
        )

    async def disconnect(self, code: int) -> None:
        if self.order_pk is not None:
            order_watcher().unwatch(order_pk=self.order_pk, channel_name=self.channel_name)
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def send_status(self, payload: dict, *, force: bool = False) -> None:
        last = self.last_sent
        stale = last is not None and (
            payload == last or payload.get("updated", "") < last.get("updated", "")
        )
        if stale and not force:
            return  # the same, or older than what the page has (pushes may cross)
        self.last_sent = payload
        await self.send_json(payload)

    async def dispatch(self, message: dict) -> None:
        """Channels' own dispatch, without its hop to the database thread on every message to
        close old connections: this consumer only touches the database through
        ``database_sync_to_async``, which does that itself. Every push to every open page would
        otherwise cost a thread hop."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        # Binary frames and text that isn't JSON are ignored rather than killing the socket.
        if text_data is None:
            return
        await super().receive(text_data=text_data, **kwargs)

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return json.loads(text_data)
        except ValueError:
            return None

    async def receive_json(self, content, **kwargs) -> None:
        # The page may ask again (after a reconnect, say); anything else is ignored.
        if isinstance(content, dict) and content.get("type") in ("ping", "status"):
            payload = await _status_payload(self.order_pk)
            if payload is not None:
                await self.send_status(payload, force=True)

    async def order_status(self, event: dict) -> None:
        await self.send_status({k: v for k, v in event.items() if k != "type"})
