"""CSV exports for the bookkeeper: orders, installments and refunds, streamed in constant memory.

An export is a registry of columns (``Column``: a header and how to read the cell from one row)
over a queryset. The rows are read in chunks of ``EXPORT_CHUNK_SIZE`` by keyset pagination
(``pk > last pk``, ordered by pk, so the oldest row comes first): each chunk is one query, plus
one for the related rows of that chunk only (an order's lines, never one query per order),
and is written out before the next one is read. Whatever the number of rows, at most one chunk
is in memory.

Why keyset chunks rather than ``queryset.iterator()``: a server-side cursor belongs to one
database connection, so the whole download would have to run on one thread holding one
connection (and, behind a transaction-pooling proxy, can't be used at all). Independent chunk
queries can run anywhere: the admin serves them from a worker thread per chunk when the store
runs under ASGI (``csv_stream_async``), and from the request's thread otherwise
(``csv_stream``).

Why the csv module and not django-import-export: its exports build a whole tablib ``Dataset`` in
memory before the first byte goes out.

Every cell that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) is prefixed with ``'`` (``csv_cell``): a shopper's name such as
``=HYPERLINK(...)`` arrives in the bookkeeper's spreadsheet as text.

Columns read model attributes by name (``attribute``), a property or a field alike; an
attribute the model lacks gives an empty cell rather than an error, so a column can name what
another app adds to the order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connections
from django.db.models import Model, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders.models import Installment, Order, OrderItem, Refund
from orders.payments import provider_label

EXPORT_CHUNK_SIZE = 500
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any, zone: tzinfo | None = None) -> str:
    """``value`` as the text of one cell: dates in ISO 8601 (the store's time zone, with its
    offset), decimals as written (``19.90``), ``None`` empty, and anything a spreadsheet would
    run as a formula neutralised with a leading ``'``. ``zone``: the store's time zone, when the
    caller has it at hand (looking it up per cell costs)."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, datetime):
        text = timezone.localtime(value, zone).isoformat(timespec="seconds")
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    else:
        text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


@dataclass(frozen=True)
class Column:
    header: str | Callable[[], str]  # a callable for a header known only at run time
    value: Callable[[Any], Any]

    @property
    def title(self) -> str:
        return self.header if isinstance(self.header, str) else self.header()


def attribute(name: str) -> Callable[[Any], Any]:
    """Read ``name`` from the row; empty when the model has no such attribute."""
    return lambda row: getattr(row, name, None)


@dataclass(frozen=True)
class Export:
    """What one CSV holds: its columns, the relations read with each chunk, its file name."""

    name: str
    model: type[Model]
    columns: tuple[Column, ...]
    select_related: tuple[str, ...] = ()
    # Reads what the chunk's rows need from elsewhere, in one query, and sets it on them.
    load_related: Callable[[Sequence[Any]], None] | None = None

    @property
    def headers(self) -> list[str]:
        return [column.title for column in self.columns]

    def prepare(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` with the relations its columns read, in primary key order."""
        return queryset.select_related(*self.select_related).order_by("pk")

    def row(self, obj: Model, zone: tzinfo | None = None) -> list[str]:
        return [csv_cell(column.value(obj), zone) for column in self.columns]


LINES = "export_lines"


def _load_lines(orders: Sequence[Order]) -> None:
    """Set ``export_lines`` on each of ``orders``: ``2 x Mug @ 12.00; 1 x Tote @ 15.00``, from
    one query for all their lines (plain tuples: lighter than prefetching model instances)."""
    lines: dict[int, list[str]] = {order.pk: [] for order in orders}
    rows = (
        OrderItem.objects.filter(order_id__in=lines)
        .order_by("order_id", "pk")
        .values_list("order_id", "quantity", "product_name", "unit_price")
    )
    for order_id, quantity, name, price in rows:
        lines[order_id].append(f"{quantity} x {name} @ {price}")
    for order in orders:
        setattr(order, LINES, "; ".join(lines[order.pk]))


def _payment_id_header() -> str:
    """The header of the provider's payment id, named after the store's payment provider
    (``<label> payment id``)."""
    return f"{provider_label()} payment id"


ORDERS = Export(
    name="orders",
    model=Order,
    columns=(
        Column("number", attribute("number")),
        Column("created", attribute("created_at")),
        Column("paid", attribute("paid_at")),
        Column("payment status", attribute("status")),
        Column("refund status", attribute("refund_state")),
        Column("fulfilment status", attribute("fulfilment_status")),
        Column("e-mail", attribute("email")),
        Column("name", attribute("name")),
        Column("shipping address", attribute("shipping_address_text")),
        Column("phone", attribute("shipping_phone")),
        Column("lines", attribute(LINES)),
        Column("subtotal", attribute("subtotal")),
        Column("shipping method", attribute("shipping_method_name")),
        Column("shipping", attribute("shipping_price")),
        Column("total", attribute("total")),
        Column("refunded", attribute("refunded_total")),
        Column("currency", attribute("currency")),
        Column(_payment_id_header, attribute("payment_reference")),
        Column("carrier", attribute("carrier")),
        Column("tracking number", attribute("tracking_number")),
        Column("shipped", attribute("shipped_at")),
    ),
    load_related=_load_lines,
)


def _order(name: str) -> Callable[[Installment], Any]:
    return lambda row: getattr(row.subscription.order, name)


INSTALLMENTS = Export(
    name="installments",
    model=Installment,
    columns=(
        Column("order number", _order("number")),
        Column("e-mail", _order("email")),
        Column("plan", lambda row: row.subscription.product_name),
        Column("installment", lambda row: row.number + 1),
        Column("status", attribute("status")),
        Column("amount", attribute("amount")),
        Column("currency", attribute("currency")),
        Column("due", attribute("due_date")),
        Column("charged", attribute("occurred_at")),
        Column("recorded", attribute("recorded_at")),
        Column("transaction id", attribute("transaction_id")),
        Column(_payment_id_header, attribute("payment_reference")),
        Column("fail reason", attribute("fail_reason")),
        Column("note", attribute("note")),
    ),
    select_related=("subscription__order",),
)


def _refunded_payment(refund: Refund) -> str:
    """``order`` (the order's own payment) or ``installment 3``."""
    if refund.installment is None:
        return "order"
    return f"installment {refund.installment.number + 1}"


REFUNDS = Export(
    name="refunds",
    model=Refund,
    columns=(
        Column("order number", lambda row: row.order.number),
        Column("e-mail", lambda row: row.order.email),
        Column("recorded", attribute("created_at")),
        Column("amount", attribute("amount")),
        Column("currency", attribute("currency")),
        Column("payment refunded", _refunded_payment),
        Column("reason", attribute("reason")),
        Column("recorded by", attribute("recorded_by")),
        Column("provider refund id", attribute("provider_reference")),
        Column("order total", lambda row: row.order.total),
        Column("order paid", lambda row: row.order.paid_at),
        Column(_payment_id_header, lambda row: row.order.payment_reference),
    ),
    select_related=("order", "installment"),
)

EXPORTS: dict[str, Export] = {export.name: export for export in (ORDERS, INSTALLMENTS, REFUNDS)}


def _write(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


@dataclass(frozen=True)
class Chunk:
    text: str  # the CSV lines of the chunk's rows
    rows: int
    last: Any  # the last primary key read; None once there is nothing more to read


def csv_chunk(export: Export, queryset: QuerySet, *, after: Any, size: int) -> Chunk:
    """The rows of ``queryset`` (already ``export.prepare``d) after primary key ``after`` (None:
    from the first), at most ``size`` of them: one query, plus one for their related rows."""
    page = queryset if after is None else queryset.filter(pk__gt=after)
    objects = list(page[:size])
    if objects and export.load_related is not None:
        export.load_related(objects)
    zone = timezone.get_current_timezone()
    text = _write(export.row(obj, zone) for obj in objects)
    return Chunk(text, len(objects), objects[-1].pk if len(objects) == size else None)


def csv_chunks(
    export: Export, queryset: QuerySet, *, chunk_size: int | None = None
) -> Iterator[Chunk]:
    """The chunks of the export, each read when it is asked for."""
    queryset = export.prepare(queryset)
    size = chunk_size or EXPORT_CHUNK_SIZE
    after = None
    while True:
        chunk = csv_chunk(export, queryset, after=after, size=size)
        yield chunk
        if chunk.last is None:
            return
        after = chunk.last


def csv_stream(
    export: Export, queryset: QuerySet, *, chunk_size: int | None = None
) -> Iterator[str]:
    """The header line, then one piece of CSV text per chunk of rows, read as they are asked for
    (nothing is read before the first piece is)."""
    yield _write([export.headers])
    for chunk in csv_chunks(export, queryset, chunk_size=chunk_size):
        if chunk.rows:
            yield chunk.text


def _chunk_in_thread(export: Export, queryset: QuerySet, after: Any, size: int) -> Chunk:
    """``csv_chunk`` in a worker thread, on a connection of its own that is closed after the
    chunk: the thread is the event loop's, not a request's, so nothing else would close it."""
    close_old_connections()
    try:
        return csv_chunk(export, queryset, after=after, size=size)
    finally:
        connections.close_all()


async def csv_stream_async(
    export: Export, queryset: QuerySet, *, chunk_size: int | None = None
) -> AsyncIterator[str]:
    """``csv_stream`` for an ASGI server: each chunk is read in a worker thread, leaving the event
    loop free meanwhile (Django reads a sync stream served over ASGI whole into a list before
    sending its first byte)."""
    yield _write([export.headers])
    queryset = export.prepare(queryset)
    after = None
    read = sync_to_async(_chunk_in_thread, thread_sensitive=False)
    while True:
        chunk = await read(export, queryset, after, chunk_size or EXPORT_CHUNK_SIZE)
        if chunk.rows:
            yield chunk.text
        if chunk.last is None:
            return
        after = chunk.last


def csv_write(
    export: Export, queryset: QuerySet, out: Any, *, chunk_size: int | None = None
) -> int:
    """Write the whole export to the text stream ``out`` (a file, stdout), a chunk at a time;
    returns the number of rows written (the header line not counted)."""
    out.write(_write([export.headers]))
    rows = 0
    for chunk in csv_chunks(export, queryset, chunk_size=chunk_size):
        out.write(chunk.text)
        rows += chunk.rows
    return rows


def day_bounds(
    *, since: date | None, until: date | None
) -> tuple[datetime | None, datetime | None]:
    """Local midnight at the start of ``since`` and at the end of ``until`` (the day after's
    midnight, excluded): both days are whole, in the store's time zone."""
    zone = timezone.get_current_timezone()

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=zone)

    start = midnight(since) if since else None
    end = midnight(until + timedelta(days=1)) if until else None
    return start, end


def export_rows_between(*, name: str, since: date | None, until: date | None) -> QuerySet:
    """The rows of export ``name`` dated from ``since`` through ``until`` (whole local days;
    either may be None for no bound): orders by when they were placed, installments by when
    they were charged (recorded, when the provider gave no time), refunds by when they were
    recorded. Raises ``KeyError`` for an unknown ``name``."""
    start, end = day_bounds(since=since, until=until)
    if name == "orders":
        return _between(Order.objects.all(), "created_at", start, end)
    if name == "installments":
        charged = Coalesce("occurred_at", "recorded_at")
        return _between(Installment.objects.annotate(charged=charged), "charged", start, end)
    if name == "refunds":
        return _between(Refund.objects.all(), "created_at", start, end)
    raise KeyError(name)


def _between(queryset: QuerySet, field: str, start: datetime | None, end: datetime | None):
    if start is not None:
        queryset = queryset.filter(**{f"{field}__gte": start})
    if end is not None:
        queryset = queryset.filter(**{f"{field}__lt": end})
    return queryset
