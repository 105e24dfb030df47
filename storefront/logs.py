"""Log lines with their context: the request id and the order number, as JSON lines or plain text.

- ``REQUEST_ID``: set for each HTTP request and WebSocket by the ASGI edge (``storefront.edge``),
  from the trusted proxy's ``X-Request-ID`` or a new one, and sent back in ``X-Request-ID``; in
  the worker, ``task-<id>`` of the task at hand (``storefront.worker``).
- ``bind_order(number)``: the order a piece of work is about. The views that load an order and
  ``banq.settlement.payment_apply`` (every webhook, confirm, sweep, reconcile and admin re-check)
  bind it; ``log_scope()`` puts the previous value back afterwards, so a worker thread's next
  task does not inherit it. A log call can also pass ``extra={"order": number}``.
- ``ContextFilter`` copies both onto every record (``record.request_id``, ``record.order``);
  ``JsonFormatter`` writes one JSON object per line: ``time`` (UTC), ``level``, ``logger``,
  ``message``, ``request_id`` and ``order`` when known, ``exception`` when there is one.

Apps may import this module (like ``storefront.http``): it imports nothing of theirs. Secrets are
removed before formatting by ``storefront.logfilters.RedactSecretsFilter``, which runs first.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from django.core.signals import request_started

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
ORDER_NUMBER: ContextVar[str] = ContextVar("order_number", default="")
# What we accept from a proxy as a request id (nginx's $request_id is 32 hex digits).
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def bind_order(number: str) -> None:
    """Name the order the current work is about in every log line from here on (in this
    request, or until the enclosing ``log_scope`` ends)."""
    ORDER_NUMBER.set(str(number or ""))


def _forget_order(**kwargs) -> None:
    # Each request starts without an order, also where requests share a context (a sync server,
    # the test client): a request names its own.
    ORDER_NUMBER.set("")


request_started.connect(_forget_order, dispatch_uid="storefront.logs.forget_order")


@contextmanager
def log_scope() -> Iterator[None]:
    """Whatever ``bind_order`` does inside is undone on the way out."""
    token = ORDER_NUMBER.set(ORDER_NUMBER.get())
    try:
        yield
    finally:
        ORDER_NUMBER.reset(token)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``order`` to every record (empty when unknown); an ``order``
    given with ``extra=`` wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = REQUEST_ID.get()
        if not getattr(record, "order", ""):
            record.order = ORDER_NUMBER.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module doc)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "")
        if request_id:
            entry["request_id"] = request_id
        order = getattr(record, "order", "")
        if order:
            entry["order"] = str(order)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)  # ASCII: no character can break the stream


def json_line(**fields: object) -> str:
    """A JSON log line built outside ``logging`` (the server's access log)."""
    entry = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **fields}
    return json.dumps({k: v for k, v in entry.items() if v not in (None, "")}, default=str)
