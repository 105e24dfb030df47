"""CSV exports: cells (formulas neutralised), the stream (a chunk at a time, flat memory) and
``manage.py export_orders`` for cron (whole days, stdout or a file written whole)."""

from __future__ import annotations

import io
import tracemalloc
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import FieldError
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models.functions import Upper
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from orders import exports
from orders.exports import LINES, ORDERS, Column, Export, attribute, csv_cell, csv_stream
from orders.models import Installment, Order, Refund
from orders.services.refunds import order_refund_record
from tests.factories import order_create, recurring_order_create
from tests.support.exports import many_orders, read_csv

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1 555 0100", "'+1 555 0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Sam = Shopper", "Sam = Shopper"),
        ("sam@example.com", "sam@example.com"),
        (Decimal("19.90"), "19.90"),
        (None, ""),
    ],
)
def test_csv_cell_neutralises_what_a_spreadsheet_would_run(value, cell):
    assert csv_cell(value) == cell


def test_csv_cell_writes_times_in_the_store_time_zone_with_offset(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    moment = datetime(2026, 12, 6, 9, 30, tzinfo=ZoneInfo("UTC"))
    with timezone.override("Europe/Berlin"):
        assert csv_cell(moment) == "2026-12-06T10:30:00+01:00"


def test_each_chunk_costs_one_query_for_the_orders_and_one_for_their_lines(monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_CHUNK_SIZE", 10)
    many_orders(25, lines=3)
    stream = csv_stream(ORDERS, Order.objects.all())
    next(stream)  # the header

    per_piece = []
    while True:
        with CaptureQueriesContext(connection) as captured:
            piece = next(stream, None)
        if piece is None:
            break
        per_piece.append((len(captured), piece.count("\r\n")))

    assert per_piece == [(2, 10), (2, 10), (2, 5)]
    # Nothing is read until the stream is: a fresh stream runs no query when made.
    with CaptureQueriesContext(connection) as captured:
        csv_stream(ORDERS, Order.objects.all())
    assert len(captured) == 0


def _peak_bytes(count: int) -> int:
    Order.objects.all().delete()
    many_orders(count, lines=2)
    tracemalloc.start()
    try:
        for _ in csv_stream(ORDERS, Order.objects.all(), chunk_size=50):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_memory_stays_flat_as_the_orders_grow():
    """Ten times the orders, about the same peak memory: the export holds a chunk, not the
    table (building every row first would take about ten times as much)."""
    small = _peak_bytes(200)
    large = _peak_bytes(2000)

    assert large < small * 2, (small, large)


def _placed_at(order: Order, moment: datetime) -> None:
    Order.objects.filter(pk=order.pk).update(created_at=moment)


def test_export_command_takes_whole_days_in_the_store_time_zone(settings, tmp_path):
    settings.TIME_ZONE = "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    inside = {
        "first minute": datetime(2026, 3, 1, 0, 0, tzinfo=berlin),
        "last minute": datetime(2026, 3, 31, 23, 59, 59, tzinfo=berlin),
    }
    outside = {
        "day before": datetime(2026, 2, 28, 23, 59, 59, tzinfo=berlin),
        "day after": datetime(2026, 4, 1, 0, 0, tzinfo=berlin),
    }
    numbers = {}
    for label, moment in {**inside, **outside}.items():
        order = order_create(name=label)
        _placed_at(order, moment)
        numbers[label] = order.number
    target = tmp_path / "march.csv"

    with timezone.override("Europe/Berlin"):
        call_command(
            "export_orders",
            "--since",
            "2026-03-01",
            "--until",
            "2026-03-31",
            "--output",
            str(target),
            stderr=io.StringIO(),
        )

    rows = read_csv(target.read_text(encoding="utf-8"))
    assert sorted(row["number"] for row in rows) == sorted(numbers[k] for k in inside)


def test_export_command_writes_to_stdout_by_default():
    order = order_create()
    out, err = io.StringIO(), io.StringIO()

    call_command("export_orders", stdout=out, stderr=err)

    assert [row["number"] for row in read_csv(out.getvalue())] == [order.number]
    assert "1 orders row(s) exported to stdout." in err.getvalue()


def test_export_command_without_since_takes_everything_until_the_day():
    old = order_create()
    _placed_at(old, timezone.now() - timedelta(days=400))
    today = order_create()
    out = io.StringIO()

    call_command(
        "export_orders",
        "--until",
        (timezone.localdate() - timedelta(days=1)).isoformat(),
        stdout=out,
        stderr=io.StringIO(),
    )

    numbers = [row["number"] for row in read_csv(out.getvalue())]
    assert numbers == [old.number]
    assert today.number not in numbers


def test_export_command_installments_by_charge_day(tmp_path):
    order = recurring_order_create()
    charged = Installment.objects.create(
        subscription=order.subscription,
        number=1,
        status=Installment.Status.PAID,
        amount=Decimal("9.90"),
        transaction_id="tx-in",
        occurred_at=timezone.now() - timedelta(days=3),
    )
    Installment.objects.create(
        subscription=order.subscription,
        number=2,
        status=Installment.Status.PAID,
        amount=Decimal("9.90"),
        transaction_id="tx-out",
        occurred_at=timezone.now(),
    )
    day = timezone.localdate(charged.occurred_at).isoformat()
    out = io.StringIO()

    call_command(
        "export_orders",
        "--rows",
        "installments",
        "--since",
        day,
        "--until",
        day,
        stdout=out,
        stderr=io.StringIO(),
    )

    assert [row["transaction id"] for row in read_csv(out.getvalue())] == ["tx-in"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-03-02", "--until", "2026-03-01"], "is after --until"),
        (["--since", "March"], "not a date"),
        (["--output", "/no/such/dir/x.csv"], "no such directory"),
    ],
)
def test_export_command_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_orders", *args, stdout=io.StringIO(), stderr=io.StringIO())


def test_export_command_leaves_no_half_file_behind(tmp_path, monkeypatch):
    target = tmp_path / "orders.csv"
    target.write_text("yesterday's export\n", encoding="utf-8")
    order_create()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(exports, "csv_chunk", broken)
    with pytest.raises(RuntimeError):
        call_command("export_orders", "--output", str(target), stderr=io.StringIO())

    assert target.read_text(encoding="utf-8") == "yesterday's export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["orders.csv"]


def test_export_command_refunds_by_the_day_they_were_recorded():
    order = order_create(status=Order.Status.PAID, total="30.00", paid_at=timezone.now())
    earlier = order_refund_record(order=order, amount="10.00", reason="broken", actor="merchant")
    Refund.objects.filter(pk=earlier.pk).update(created_at=timezone.now() - timedelta(days=2))
    order_refund_record(order=order, amount="5.00", reason="late", actor="merchant")
    day = (timezone.localdate() - timedelta(days=2)).isoformat()
    out = io.StringIO()

    call_command(
        "export_orders",
        "--rows",
        "refunds",
        "--since",
        day,
        "--until",
        day,
        stdout=out,
        stderr=io.StringIO(),
    )

    assert [row["reason"] for row in read_csv(out.getvalue())] == ["broken"]


def _export_rows(export=ORDERS, queryset=None) -> list[dict[str, str]]:
    stream = csv_stream(export, Order.objects.all() if queryset is None else queryset)
    return read_csv("".join(stream))


def _shipping_to(order: Order, country: str) -> None:
    Order.objects.filter(pk=order.pk).update(
        requires_shipping=True,
        shipping_name="=Sam Shopper",
        shipping_line1="Lindenallee 1",
        shipping_postal_code="10115",
        shipping_city="Berlin",
        shipping_country=country,
    )


def test_export_writes_each_address_with_its_own_country_name():
    """The address is written from plain values, each country's name looked up once per chunk
    (in the active language, as ``Order.shipping_address_text`` says it): two countries in one
    chunk keep their own names, and an order that doesn't ship has no address."""
    germany, ireland, home = order_create(), order_create(), order_create()
    _shipping_to(germany, "DE")
    _shipping_to(ireland, "IE")

    with translation.override("de"):
        rows = {row["number"]: row["shipping address"] for row in _export_rows()}
        models = {order.number: order.shipping_address_text for order in Order.objects.all()}

    assert rows == {number: csv_cell(text) for number, text in models.items()}
    assert rows[germany.number] == "'=Sam Shopper, Lindenallee 1, 10115 Berlin, Germany"
    assert rows[ireland.number] == "'=Sam Shopper, Lindenallee 1, 10115 Berlin, Ireland"
    assert rows[home.number] == ""


def test_export_writes_each_time_in_the_store_zone_with_the_offset_of_its_day(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    utc = ZoneInfo("UTC")
    order = order_create()
    Order.objects.filter(pk=order.pk).update(
        created_at=datetime(2026, 1, 15, 9, 30, 15, 999999, tzinfo=utc),
        paid_at=datetime(2026, 7, 1, 22, 5, 0, 1, tzinfo=utc),
        shipped_at=None,
    )

    with timezone.override("Europe/Berlin"):
        [row] = _export_rows()

    assert (row["created"], row["paid"], row["shipped"]) == (
        "2026-01-15T10:30:15+01:00",  # winter; the microseconds are cut, not rounded
        "2026-07-02T00:05:00+02:00",  # summer, and the next local day
        "",
    )


def test_export_cells_match_the_model_values_written_one_by_one(settings):
    """Every cell of the orders export equals ``csv_cell`` of what the order's model gives:
    the export reads plain values, never the model, and must not drift from it."""
    settings.TIME_ZONE = "America/New_York"
    order = order_create(name="-Dash", email="+x@example.com", paid_at=timezone.now())
    _shipping_to(order, "IE")
    order_refund_record(order=order, amount="1.00", reason="scratched", actor="merchant")
    order.refresh_from_db()

    with timezone.override("America/New_York"):
        [row] = _export_rows()
        expected = {
            column.title: csv_cell(getattr(order, column.value.name, None))
            for column in ORDERS.columns
            if column.reads is None and column.value.name != LINES.name
        }
        expected["shipping address"] = csv_cell(order.shipping_address_text)
        expected["refund status"] = csv_cell(order.refund_state)

    assert {title: row[title] for title in expected} == expected
    assert row["refund status"] == "partially_refunded"


def test_a_column_may_name_a_property_an_annotation_or_what_the_model_lacks():
    """The extension points: a field or an annotation is read as a plain value, a property from
    the model instance (one more query per chunk, only then), a missing attribute is empty."""
    paid = order_create(paid_at=timezone.now(), total="12.00")
    export = Export(
        name="extended",
        model=Order,
        columns=(
            Column("number", attribute("number")),
            Column("is paid", attribute("is_paid")),  # a property
            Column("gift note", attribute("gift_note")),  # another app's, not installed here
            Column("shouted", attribute("shouted")),  # the queryset's annotation
            Column("lines", attribute(LINES.name)),
        ),
        related=(LINES,),
    )
    queryset = Order.objects.annotate(shouted=Upper("email"))

    with CaptureQueriesContext(connection) as captured:
        [row] = _export_rows(export, queryset)

    assert row == {
        "number": paid.number,
        "is paid": "yes",
        "gift note": "",
        "shouted": "SHOPPER@EXAMPLE.COM",
        "lines": "1 x Test item @ 12.00",
    }
    assert len(captured) == 3  # the rows' values, their lines, the instances for the property


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's loader of times")
def test_on_postgresql_the_times_are_the_models_and_djangos_loader_comes_back():
    """The export parses the session's ISO text of times itself; after each chunk, even one that
    failed, the connection has Django's loader again (it may go back to a pool)."""
    from psycopg.postgres import types
    from psycopg.pq import Format

    order = order_create(paid_at=datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=ZoneInfo("UTC")))
    order.refresh_from_db()
    connection.ensure_connection()
    adapters = connection.connection.adapters
    oid = types["timestamptz"].oid
    django_loader = adapters.get_loader(oid, Format.TEXT)

    with timezone.override("Europe/Berlin"):
        [row] = _export_rows()
        expected = (csv_cell(order.created_at), csv_cell(order.paid_at))
    with pytest.raises(FieldError):  # raised while the chunk's rows are read
        _export_rows(Export("broken", Order, (Column("x", str, reads=("no_such_field",)),)))

    assert (row["created"], row["paid"]) == expected
    assert expected[1] == "2026-03-29T01:59:59+01:00"  # an hour before summer time starts
    assert adapters.get_loader(oid, Format.TEXT) is django_loader
