"""One watcher per process for the order pages open on it.

Pushes from another process (the task worker, a command) cross processes only through a shared
channel layer (Redis). With the default in-memory layer they would never reach a page served here,
so each process looks itself: every ``ORDER_STATUS_RECHECK_SECONDS`` one query reads
``updated_at`` of all the orders watched in this process, and only the orders that changed are read
again and sent to their sockets. An idle process costs one small query per interval, however many
sockets are open (with Redis the interval is a slow safety net).

Consumers register with ``order_watch`` / ``order_unwatch``; the watcher runs while anything is
watched and stops by itself.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from datetime import datetime

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from orders.models import Order
from orders.notifications import order_status_payload

logger = logging.getLogger(__name__)

CHUNK = 500  # ids per query (SQLite's variable limit is far above, but stay modest)


def _changed_orders(seen: dict[int, datetime | None]) -> list[tuple[int, datetime, dict]]:
    """(pk, updated_at, payload) of the watched orders whose ``updated_at`` moved."""
    pks = list(seen)
    changed: list[int] = []
    for start in range(0, len(pks), CHUNK):
        rows = Order.objects.filter(pk__in=pks[start : start + CHUNK]).values_list(
            "pk", "updated_at"
        )
        changed += [pk for pk, updated_at in rows if updated_at != seen.get(pk)]
    if not changed:
        return []
    return [
        (order.pk, order.updated_at, order_status_payload(order))
        for order in Order.objects.filter(pk__in=changed)
    ]


class OrderWatcher:
    def __init__(self) -> None:
        self.channels: dict[int, set[str]] = {}
        self.seen: dict[int, datetime | None] = {}
        self.task: asyncio.Task | None = None

    def watch(self, *, order_pk: int, channel_name: str, updated_at: datetime | None) -> None:
        self.channels.setdefault(order_pk, set()).add(channel_name)
        if order_pk not in self.seen or updated_at is not None:
            self.seen[order_pk] = updated_at
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._run())

    def unwatch(self, *, order_pk: int, channel_name: str) -> None:
        names = self.channels.get(order_pk)
        if names is None:
            return
        names.discard(channel_name)
        if not names:
            del self.channels[order_pk]
            self.seen.pop(order_pk, None)

    async def _run(self) -> None:
        interval = float(settings.ORDER_STATUS_RECHECK_SECONDS or 0)
        if interval <= 0:
            return
        layer = get_channel_layer()
        while self.channels:
            await asyncio.sleep(interval)
            if not self.channels:
                break
            try:
                changed = await sync_to_async(_changed_orders, thread_sensitive=False)(
                    dict(self.seen)
                )
                for pk, updated_at, payload in changed:
                    if pk not in self.channels:
                        continue
                    self.seen[pk] = updated_at
                    message = {"type": "order.status", **payload}
                    for channel_name in list(self.channels.get(pk, ())):
                        await layer.send(channel_name, message)
            except asyncio.CancelledError:
                raise
            except Exception:  # the pages still get pushes; try again next round
                logger.exception("Order watcher: could not look for changed orders")


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, OrderWatcher] = (
    weakref.WeakKeyDictionary()
)


def order_watcher() -> OrderWatcher:
    """This process's (this event loop's) watcher."""
    loop = asyncio.get_running_loop()
    watcher = _watchers.get(loop)
    if watcher is None:
        watcher = _watchers[loop] = OrderWatcher()
    return watcher
