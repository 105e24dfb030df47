"""Waiting for something another process or thread does, with a deadline: the one way tests poll.

``wait_for(condition, timeout=..., what=...)`` asks ``condition()`` until it returns something
truthy and returns that; after ``timeout`` seconds it fails the test saying ``what`` never
happened (a string, or a callable giving one, for a message that shows the state at the end)::

    order = wait_for(lambda: Order.objects.filter(paid_at__isnull=False).first(),
                     timeout=10, what="the webhook paid the order")

``receive_until(ws, wanted, timeout=..., what=...)`` does the same for a WebSocket: the first
JSON message ``wanted(message)`` accepts, skipping the others.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

INTERVAL = 0.05


def wait_for(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str | Callable[[], str],
    interval: float = INTERVAL,
) -> T:
    """``condition()``'s first truthy value within ``timeout`` seconds (asked at least once, and
    once more at the deadline); else AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            message = what() if callable(what) else what
            raise AssertionError(f"not within {timeout:g} s: {message}")
        time.sleep(interval)


async def receive_until(
    ws: Any, wanted: Callable[[dict], bool], *, timeout: float, what: str
) -> dict:
    """The first JSON message on ``ws`` (a ``websockets`` connection) that ``wanted`` accepts,
    within ``timeout`` seconds; else AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        except TimeoutError:
            raise AssertionError(f"not within {timeout:g} s: {what}") from None
        if wanted(message):
            return message
