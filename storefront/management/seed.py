"""Realistic orders in bulk, for trials and benchmarks (``manage.py seed_orders``).

``seed_orders`` writes what a year of a store's life leaves behind, without running checkout:
orders spread over the last ``days`` with their lines, history, payment attempts, webhook events,
flags, and recurring plans with their installments. Rows are generated in Python from one seeded
``random.Random`` (the same ``--seed`` on the same database gives the same rows) and written in
batches with explicit primary keys: PostgreSQL's ``COPY`` through psycopg, SQLite's
``executemany``. Nothing goes through ``save()``, signals, the outbox or the payment provider: no
e-mail is sent and banq is never called.

The mix follows what the store's own rules produce:
- orders past their payment time (``ORDER_EXPIRY_MINUTES``) are closed: paid, expired (the link was
  never paid, or never opened), cancelled (a few paid after cancellation, flagged for refund);
- orders within it are still open: pending, awaiting payment (their attempt is due for the sweep),
  failed (a declined payment the shopper can retry), or already paid;
- about one order in twenty is a monthly plan: its subscription, and an installment for each month
  since the first payment;
- every paid order has its webhook event (a few two: banq's redelivery, recorded as a duplicate),
  its "paid" and "e-mail sent" history lines;
- goods that ship have an address and a shipping method (its price in the total); paid ones are
  shipped with a carrier and tracking, most then delivered;
- about one paid order in fifty is refunded later (a third of those in part), and an order paid
  after cancellation is refunded once its flag is a week old (the flag handled).

Columns a later migration adds are filled with their field's default, so seeding keeps working as
the models grow; a new column that has no default needs a value here.
"""

from __future__ import annotations

import calendar
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.color import no_style
from django.db import OperationalError, connection, models, transaction

from banq.models import BanqPayment
from orders.models import (
    Installment,
    Order,
    OrderEvent,
    OrderFlag,
    OrderItem,
    Product,
    Refund,
    ShippingMethod,
    Subscription,
)
from webhooks.models import WebhookEvent

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # the checkout's order-number symbols
SUFFIX_SPACE = len(ALPHABET) ** 7
SUFFIX_MIX = 7_919_000_003  # coprime to 30: pk -> suffix is a bijection, unique numbers
FIRST = ["Ada", "Ben", "Chloé", "Dmitri", "Emma", "Farah", "Gus", "Hana", "Ivan", "Jo", "Kai"]
LAST = ["Lovelace", "Okafor", "Martin", "Sato", "Nguyen", "Müller", "Silva", "Kowalski", "Rossi"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example"]
FAIL_REASONS = [
    ("insufficient_funds", "The account did not have enough funds."),
    ("declined", "The payment was declined."),
    ("expired_card", "The card has expired."),
]
CITIES = [
    ("Lyon", "69002", "FR"),
    ("Berlin", "10115", "DE"),
    ("Austin", "78701", "US"),
    ("Leeds", "LS1 4AP", "GB"),
    ("Porto", "4050-001", "PT"),
]
STREETS = ["Main Street", "Rue de la Paix", "Lindenallee", "High Street", "Rua das Flores"]
CARRIERS = [("DHL", "https://www.dhl.com/track?n="), ("UPS", "https://www.ups.com/track?n=")]
CENT = Decimal("0.01")
LOCK_ATTEMPTS = 5


@dataclass(frozen=True)
class SeedMix:
    """Shares of each outcome (the rest of the closed orders are paid)."""

    expired: float = 0.17
    expired_without_link: float = 0.35  # of the expired: the shopper never opened the link
    cancelled: float = 0.05
    paid_after_cancel: float = 0.04  # of the cancelled: refund due
    failed_then_paid: float = 0.03
    recurring: float = 0.05
    redelivered: float = 0.02  # paid orders whose webhook banq sent twice
    open_flag: float = 0.001  # paid orders with a flag still open (needs attention)
    refunded: float = 0.02  # paid orders refunded later (a third of them in part)


@dataclass
class SeedResult:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    first_order_pk: int = 0
    last_order_pk: int = 0
    seed: int = 0


class Table:
    """One model's rows in column order: the columns given by the generator, then every other
    concrete column with its field's default."""

    def __init__(self, model: type[models.Model], given: list[str], *, now: datetime) -> None:
        self.model = model
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        missing = [name for name in given if name not in by_attname]
        if missing:
            raise ValueError(f"{model.__name__} has no field(s) {missing}")
        self.given = given
        rest = [f for f in model._meta.concrete_fields if f.attname not in given]
        self.defaults = tuple(_default(f, now=now) for f in rest)
        self.columns = [by_attname[name].column for name in given] + [f.column for f in rest]
        self.rows: list[tuple] = []

    def add(self, *values: Any) -> None:
        self.rows.append(values + self.defaults)

    @property
    def name(self) -> str:
        return self.model._meta.db_table


def _default(f: models.Field, *, now: datetime) -> Any:
    if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
        return now
    value = f.get_default()
    if value is None and not f.null:
        raise ValueError(
            f"{f.model.__name__}.{f.name} has no default: seed_orders must be told its value"
        )
    if isinstance(f, models.JSONField):
        return json.dumps(value)
    return value


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class Writer:
    """Writes tables to the default database: COPY on PostgreSQL, executemany elsewhere."""

    def __init__(self) -> None:
        self.vendor = connection.vendor

    def write(self, table: Table) -> None:
        if not table.rows:
            return
        cols = ", ".join(connection.ops.quote_name(c) for c in table.columns)
        name = connection.ops.quote_name(table.name)
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {name} ({cols}) FROM STDIN") as copy:
                    for row in table.rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(table.columns))
                convert = _sqlite_value
                cursor.executemany(
                    f"INSERT INTO {name} ({cols}) VALUES ({marks})",
                    [tuple(convert(v) for v in row) for row in table.rows],
                )
        table.rows.clear()


def _sqlite_value(value: Any) -> Any:
    """What Django itself would store on SQLite: UTC datetimes as text, UUIDs as hex."""
    kind = type(value)
    if kind is datetime:
        return str(value.astimezone(UTC).replace(tzinfo=None))
    if kind is uuid.UUID:
        return value.hex
    if kind is Decimal:
        return str(value)
    if kind is date:
        return value.isoformat()
    return value


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# What each fate leaves as the order's status.
STATUS_OF_FATE = {
    "pending": "pending",
    "awaiting_payment": "awaiting_payment",
    "failed": "failed",
    "paid": "paid",
    "failed_then_paid": "paid",
    "expired": "expired",
    "expired_without_link": "expired",
    "cancelled": "cancelled",
    "paid_after_cancel": "cancelled",
}

# The columns the generator gives, per table (every other column gets its field's default).
COLUMNS: dict[str, tuple[type[models.Model], list[str]]] = {
    "orders": (
        Order,
        [
            "id",
            "number",
            "public_id",
            "email",
            "name",
            "currency",
            "subtotal",
            "total",
            "status",
            "payment_reference",
            "payment_error",
            "created_at",
            "updated_at",
            "status_changed_at",
            "paid_at",
            "recurring",
            "requires_shipping",
            "shipping_name",
            "shipping_line1",
            "shipping_city",
            "shipping_postal_code",
            "shipping_country",
            "shipping_method_id",
            "shipping_method_name",
            "shipping_price",
            "fulfilment_status",
            "carrier",
            "tracking_number",
            "tracking_url",
            "shipped_at",
            "delivered_at",
            "refunded_total",
        ],
    ),
    "refunds": (
        Refund,
        ["id", "order_id", "amount", "currency", "reason", "recorded_by", "created_at"],
    ),
    "items": (
        OrderItem,
        ["id", "order_id", "product_id", "product_name", "unit_price", "quantity"] + ["line_total"],
    ),
    "history": (
        OrderEvent,
        ["id", "order_id", "at", "kind", "source", "from_status", "to_status", "message"],
    ),
    "attempts": (
        BanqPayment,
        [
            "id",
            "order_id",
            "banq_payment_id",
            "url",
            "funds",
            "currency",
            "status",
            "banq_status",
            "fail_reason",
            "checked_at",
            "check_anchor_at",
            "check_count",
            "next_check_at",
            "created_at",
            "updated_at",
            "completed_at",
        ],
    ),
    "events": (
        WebhookEvent,
        [
            "id",
            "raw_body",
            "body_size",
            "content_type",
            "received_at",
            "processed_at",
            "state",
            "action",
            "resource_type",
            "resource_id",
            "attempts",
            "last_attempt_at",
            "order_id",
            "payment_id",
            "dedupe_key",
            "processed_key",
        ],
    ),
    "flags": (
        OrderFlag,
        ["id", "order_id", "kind", "note", "reference", "created_at", "resolved_at"],
    ),
    "subscriptions": (
        Subscription,
        [
            "id",
            "order_id",
            "product_name",
            "frequency",
            "start_date",
            "amount",
            "currency",
            "state",
            "next_number",
            "next_due_date",
            "created_at",
            "updated_at",
        ],
    ),
    "installments": (
        Installment,
        [
            "id",
            "subscription_id",
            "number",
            "transaction_id",
            "payment_reference",
            "status",
            "amount",
            "currency",
            "due_date",
            "occurred_at",
            "source",
            "recorded_at",
            "updated_at",
        ],
    ),
}


class OrderSeeder:
    """Generates and writes ``count`` orders created over the ``days`` before ``now``."""

    def __init__(
        self,
        *,
        count: int,
        days: float,
        seed: int,
        now: datetime,
        batch: int = 5000,
        mix: SeedMix | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.count = count
        self.days = days
        self.seed = seed
        self.now = now
        self.batch = max(1, batch)
        self.mix = mix or SeedMix()
        self.progress = progress
        self.expiry = timedelta(minutes=settings.ORDER_EXPIRY_MINUTES)
        self.prefix = (settings.ORDER_NUMBER_PREFIX.strip().upper() or "SF")[:16]
        self.writer = Writer()
        self.tables = {key: Table(m, cols, now=now) for key, (m, cols) in COLUMNS.items()}
        self.next_pk = {key: _max_pk(t.model) + 1 for key, t in self.tables.items()}
        self.written = dict.fromkeys(self.tables, 0)
        # Seeded from where the table starts too: seeding twice with one seed adds new orders
        # (new public ids and banq ids) rather than colliding with the first run's.
        self.rng = random.Random(f"{seed}/{self.next_pk['orders']}")
        self._products()
        self._customers()

    # --- set-up -----------------------------------------------------------------------------

    def _products(self) -> None:
        products = list(Product.objects.filter(is_active=True).order_by("pk"))
        if not products:
            raise ValueError(
                "No active products to sell: run `manage.py load_demo_catalog` (or add some)."
            )
        self.once = [p for p in products if not p.is_recurring] or products
        self.plans = [p for p in products if p.is_recurring]
        currency = self.once[0].currency
        self.once = [p for p in self.once if p.currency == currency]
        methods = ShippingMethod.objects.filter(is_active=True, currency=currency)
        self.methods = list(methods.order_by("position", "price", "pk")) or [
            ShippingMethod(name="Standard", price=Decimal("4.90"), currency=currency)
        ]

    def _customers(self) -> None:
        size = max(50, min(self.count // 4, 200_000))
        rng = self.rng
        self.customers = []
        for k in range(size):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            local = f"{first}.{last}{k}".lower().encode("ascii", "ignore").decode()
            email = f"{local}@{rng.choice(DOMAINS)}"
            self.customers.append((email, f"{first} {last}"))

    def _pk(self, key: str) -> int:
        pk = self.next_pk[key]
        self.next_pk[key] = pk + 1
        return pk

    def _number(self, pk: int, created: datetime) -> str:
        n = (pk * SUFFIX_MIX + self.seed) % SUFFIX_SPACE
        symbols = []
        for _ in range(7):
            n, r = divmod(n, len(ALPHABET))
            symbols.append(ALPHABET[r])
        return f"{self.prefix}-{created:%y%m%d}-{''.join(symbols)}"

    def _banq_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # --- generation -------------------------------------------------------------------------

    def run(self) -> SeedResult:
        started = time.monotonic()
        span = timedelta(days=self.days)
        start = self.now - span
        step = span / max(1, self.count)
        first_pk = self.next_pk["orders"]
        done = 0
        while done < self.count:
            n = min(self.batch, self.count - done)
            self._batch(range(done, done + n), start=start, step=step)
            done += n
            if self.progress:
                self.progress(done, self.count)
        self._analyze()
        return SeedResult(
            counts=dict(self.written),
            seconds=time.monotonic() - started,
            first_order_pk=first_pk,
            last_order_pk=self.next_pk["orders"] - 1,
            seed=self.seed,
        )

    def _batch(self, indexes: range, *, start: datetime, step: timedelta) -> None:
        """Generate and write one batch, with its tables locked against other writers (the store
        and its worker may be running), so its explicit keys can't collide. A deadlock with one
        of them (PostgreSQL then cancels one side) is retried with the same random state."""
        state, keys = self.rng.getstate(), dict(self.next_pk)
        for attempt in range(LOCK_ATTEMPTS):
            try:
                with transaction.atomic():
                    self._lock()
                    for i in indexes:
                        self._order(min(start + step * (i + self.rng.random()), self.now))
                    written = {key: len(table.rows) for key, table in self.tables.items()}
                    for table in self.tables.values():
                        self.writer.write(table)
                    self._reset_sequences()
            except OperationalError:
                if attempt == LOCK_ATTEMPTS - 1:
                    raise
                self.rng.setstate(state)
                self.next_pk = dict(keys)
                for table in self.tables.values():
                    table.rows.clear()
                time.sleep(0.2 * (attempt + 1))
                continue
            for key, n in written.items():
                self.written[key] += n
            return

    def _lock(self) -> None:
        """Lock the tables for writing until the batch commits (on SQLite the transaction
        already holds the database's write lock: IMMEDIATE), then start each table's keys
        after its last row, in case another writer added some since the last batch."""
        if connection.vendor == "postgresql":
            names = ", ".join(connection.ops.quote_name(t.name) for t in self.tables.values())
            with connection.cursor() as cursor:
                # Bulk-load settings for this transaction only: the search indexes (GIN) take
                # their new entries in larger batches, and the commit does not wait for the disk
                # (a crash would lose the last batch, which a re-run adds again).
                cursor.execute("SET LOCAL gin_pending_list_limit = 65536")
                cursor.execute("SET LOCAL synchronous_commit = off")
                # Blocks others' inserts and updates, not their reads or row locks.
                cursor.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
        for key, table in self.tables.items():
            self.next_pk[key] = max(self.next_pk[key], _max_pk(table.model) + 1)

    def _reset_sequences(self) -> None:
        """Point the tables' id sequences past the explicit keys (before the lock is released)."""
        models_ = [t.model for t in self.tables.values()]
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), models_):
                cursor.execute(sql)

    def _analyze(self) -> None:
        """Refresh the planner's statistics (autovacuum would take minutes to notice a million
        new rows). On PostgreSQL, outside a transaction, VACUUM too: it merges the search
        indexes' pending entries (until then every search reads them all) and marks the pages
        all-visible (index-only scans, no hint-bit writes on the first reads)."""
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
                for table in self.tables.values():
                    cursor.execute(f"{command} {connection.ops.quote_name(table.name)}")
            elif connection.vendor == "sqlite":
                cursor.execute("ANALYZE")

    def _history(self, order_pk: int, at: datetime, *line: str) -> None:
        """One history line: kind, source, from status, to status, message."""
        self.tables["history"].add(self._pk("history"), order_pk, at, *line)

    def _order(self, created: datetime) -> None:
        rng = self.rng
        pk = self._pk("orders")
        email, name = self.customers[int(rng.random() ** 1.5 * len(self.customers))]
        recurring = bool(self.plans) and rng.random() < self.mix.recurring
        lines = self._lines(pk, recurring)
        subtotal = sum((line[2] for line in lines), Decimal("0")).quantize(CENT)
        currency = lines[0][3]
        ships = any(line[0].requires_shipping for line in lines)
        method = rng.choice(self.methods) if ships else None
        shipping_price = method.price_for(subtotal) if method else Decimal("0.00")
        total = subtotal + shipping_price
        self._refunded = Decimal("0.00")
        self._history(pk, created, "created", "checkout", "", "pending", "Order placed.")
        fate = self._fate(self.now - created < self.expiry)
        changed, paid_at, reference, error = created, None, "", ""
        if fate not in ("pending", "expired_without_link"):
            at = created + timedelta(seconds=rng.uniform(5, 300))
            self._history(
                pk, at, "status", "shopper", "pending", "awaiting_payment", "Payment link created."
            )
            changed, paid_at, reference, error = self._attempts(pk, fate, at, total, currency)
        status = STATUS_OF_FATE[fate]
        if status == "expired":
            changed = min(self.now, created + self.expiry + timedelta(seconds=rng.uniform(1, 120)))
            self._history(
                pk,
                changed,
                "status",
                "expiry",
                "pending" if fate == "expired_without_link" else "awaiting_payment",
                "expired",
                f"Not paid within {settings.ORDER_EXPIRY_MINUTES} minutes; no completed payment.",
            )
        shipping = self._shipping(pk, name, method, shipping_price, paid_at, status)
        self.tables["orders"].add(
            pk,
            self._number(pk, created),
            uuid.UUID(int=rng.getrandbits(128), version=4),
            email,
            name,
            currency,
            subtotal,
            total,
            status,
            reference,
            error,
            created,
            max(t for t in (changed, *shipping[-2:]) if t is not None),
            changed if changed != created else None,
            paid_at,
            recurring,
            *shipping,
            self._refunded,
        )
        for line in lines:
            self.tables["items"].add(*line[4])
        if recurring:
            plan = (lines[0][1], total, currency)
            self._subscription(pk, plan, created, paid_at, status, reference)

    def _shipping(
        self,
        order_pk: int,
        name: str,
        method: ShippingMethod | None,
        price: Decimal,
        paid_at: datetime | None,
        status: str,
    ) -> tuple:
        """The order's shipping columns: the address and method for goods that ship, then its
        fulfilment: a paid order ships within two days (carrier, tracking, a history line and the
        "shipped" e-mail), most are delivered within a week after."""
        if method is None:
            return (
                (False, "", "", "", "", "", None, "", price, "not_required")
                + ("",) * 3
                + (
                    None,
                    None,
                )
            )
        rng = self.rng
        city, postal, country = rng.choice(CITIES)
        street = f"{rng.randint(1, 200)} {rng.choice(STREETS)}"
        address = (True, name, street, city, postal, country, method.pk, method.name, price)
        shipped = delivered = None
        carrier = tracking = url = ""
        if paid_at is not None and status == "paid":
            shipped = paid_at + timedelta(hours=rng.uniform(2, 48))
            if shipped <= self.now:
                carrier, base = rng.choice(CARRIERS)
                tracking = f"{carrier[:2]}{rng.randrange(10**9, 10**10)}"
                url = f"{base}{tracking}"
                self._history(
                    order_pk, shipped, "shipped", "admin", "", "", f"Shipped by {carrier}."
                )
                sent = shipped + timedelta(seconds=rng.uniform(0.5, 5))
                self._history(order_pk, sent, "email", "worker", "", "", "Shipping notice sent.")
                delivered = shipped + timedelta(days=rng.uniform(1, 6))
                if delivered <= self.now and rng.random() < 0.7:
                    self._history(order_pk, delivered, "delivered", "admin", "", "", "Delivered.")
                else:
                    delivered = None
            else:
                shipped = None
        fulfilment = "delivered" if delivered else "shipped" if shipped else "unfulfilled"
        return (*address, fulfilment, carrier, tracking, url, shipped, delivered)

    def _fate(self, open_window: bool) -> str:
        r = self.rng.random()
        mix = self.mix
        if open_window:
            if r < 0.3:
                return "pending"
            if r < 0.65:
                return "awaiting_payment"
            if r < 0.72:
                return "failed"
            return "paid"
        if r < mix.expired:
            return (
                "expired_without_link"
                if self.rng.random() < mix.expired_without_link
                else ("expired")
            )
        r -= mix.expired
        if r < mix.cancelled:
            return (
                "paid_after_cancel" if self.rng.random() < mix.paid_after_cancel else ("cancelled")
            )
        r -= mix.cancelled
        if r < mix.failed_then_paid:
            return "failed_then_paid"
        return "paid"

    def _lines(self, order_pk: int, recurring: bool) -> list[tuple]:
        rng = self.rng
        if recurring:
            products = [rng.choice(self.plans)]
            quantities = [1]
        else:
            products = rng.sample(self.once, k=min(len(self.once), 1 + int(rng.random() ** 2 * 3)))
            quantities = [1 if rng.random() < 0.8 else rng.randint(2, 4) for _ in products]
        lines = []
        for product, quantity in zip(products, quantities, strict=True):
            line_total = (product.price * quantity).quantize(CENT)
            row = (
                self._pk("items"),
                order_pk,
                product.pk,
                product.name,
                product.price,
                quantity,
                line_total,
            )
            lines.append((product, product.name, line_total, product.currency, row))
        return lines

    def _attempts(
        self, order_pk: int, fate: str, at: datetime, total: Decimal, currency: str
    ) -> tuple[datetime, datetime | None, str, str]:
        """The order's banq payment attempts (and their webhook events and history lines):
        returns (last change, paid at, banq payment id, payment error)."""
        rng = self.rng
        if fate in ("failed", "failed_then_paid"):
            reason, text = rng.choice(FAIL_REASONS)
            failed_at = at + timedelta(seconds=rng.uniform(20, 240))
            self._attempt(order_pk, at, total, currency, "failed", failed_at, reason=reason)
            self._history(
                order_pk, failed_at, "payment_failed", "webhook", "awaiting_payment", "failed", text
            )
            if fate == "failed":
                return failed_at, None, "", text
            at = failed_at + timedelta(seconds=rng.uniform(10, 120))
        if fate in ("paid", "failed_then_paid", "paid_after_cancel"):
            return self._paid(order_pk, fate, at, total, currency)
        if fate == "cancelled":
            cancelled = at + timedelta(seconds=rng.uniform(30, 600))
            self._attempt(order_pk, at, total, currency, "created", cancelled)
            self._cancelled(order_pk, cancelled)
            return cancelled, None, "", ""
        # awaiting_payment (open: due for the sweep) or expired after a link
        self._attempt(order_pk, at, total, currency, "created", at, open_=fate != "expired")
        return at, None, "", ""

    def _paid(
        self, order_pk: int, fate: str, at: datetime, total: Decimal, currency: str
    ) -> tuple[datetime, datetime | None, str, str]:
        rng = self.rng
        before = "awaiting_payment"
        if fate == "paid_after_cancel":
            before = "cancelled"
            cancelled = at + timedelta(seconds=rng.uniform(30, 600))
            self._cancelled(order_pk, cancelled)
            paid = cancelled + timedelta(seconds=rng.uniform(5, 600))
        else:
            paid = at + timedelta(seconds=rng.uniform(15, 600))
        paid = min(paid, self.now)
        banq_id = self._attempt(order_pk, at, total, currency, "completed", paid)
        after = "cancelled" if before == "cancelled" else "paid"
        self._history(
            order_pk, paid, "paid", "webhook", before, after, f"Payment {banq_id} recorded."
        )
        sent = min(self.now, paid + timedelta(seconds=rng.uniform(0.5, 5)))
        self._history(order_pk, sent, "email", "worker", "", "", "Payment confirmation sent.")
        if fate == "paid_after_cancel":
            resolved = self._flag(order_pk, "refund_due", "Paid after cancellation.", banq_id, paid)
            if resolved is not None:
                self._refund(order_pk, total, currency, resolved, "Paid after cancellation.")
        else:
            if rng.random() < self.mix.open_flag:
                self._flag(order_pk, "email_failed", "The mail server refused.", banq_id, sent)
            if rng.random() < self.mix.refunded:
                when = paid + timedelta(days=rng.uniform(1, 20))
                part = total if rng.random() < 0.67 else (total / 2).quantize(CENT)
                if when <= self.now and part > 0:
                    self._refund(order_pk, part, currency, when, "Returned by the customer.")
        return sent, paid, banq_id, ""

    def _refund(
        self, order_pk: int, amount: Decimal, currency: str, at: datetime, reason: str
    ) -> None:
        """A refund the merchant made in the provider's dashboard and recorded here."""
        self.tables["refunds"].add(
            self._pk("refunds"), order_pk, amount, currency, reason, "merchant", at
        )
        self._refunded += amount
        message = f"Refund of {amount} {currency} recorded: {reason}"
        self._history(order_pk, at, "refund", "admin", "", "", message)

    def _cancelled(self, order_pk: int, at: datetime) -> None:
        self._history(
            order_pk,
            at,
            "status",
            "shopper",
            "awaiting_payment",
            "cancelled",
            "Cancelled; no completed payment.",
        )

    def _flag(
        self, order_pk: int, kind: str, note: str, reference: str, at: datetime
    ) -> datetime | None:
        """An order's flag; a refund-due one a week old is handled (refunded): when, or None."""
        resolved = None
        if kind == "refund_due" and self.now - at > timedelta(days=7):
            resolved = at + timedelta(days=self.rng.uniform(0.1, 5))
        self.tables["flags"].add(self._pk("flags"), order_pk, kind, note, reference, at, resolved)
        return resolved

    def _attempt(
        self,
        order_pk: int,
        at: datetime,
        total: Decimal,
        currency: str,
        status: str,
        until: datetime,
        *,
        reason: str = "",
        open_: bool = False,
    ) -> str:
        rng = self.rng
        pk = self._pk("attempts")
        banq_id = self._banq_id()
        completed = until if status == "completed" else None
        next_check = at + timedelta(seconds=rng.uniform(10, 600)) if open_ else None
        self.tables["attempts"].add(
            pk,
            order_pk,
            banq_id,
            f"https://pay.banq.example/p/{banq_id}",
            total,
            currency,
            status,
            {"completed": "completed", "failed": "failed"}.get(status, "created"),
            reason,
            until,
            at,
            rng.randint(1, 6) if status != "created" or not open_ else 0,
            next_check,
            at,
            until,
            completed,
        )
        if status in ("completed", "failed"):
            action = "completed" if status == "completed" else "failed"
            deliveries = 2 if rng.random() < self.mix.redelivered else 1
            for n in range(deliveries):
                self._event(order_pk, pk, banq_id, action, until, duplicate=n > 0)
        return banq_id

    def _event(
        self,
        order_pk: int,
        attempt_pk: int,
        banq_id: str,
        action: str,
        at: datetime,
        *,
        duplicate: bool,
    ) -> None:
        event_id = self._banq_id()
        body = _json(
            {
                "action": action,
                "resourceType": "Payment",
                "resourceId": banq_id,
                "eventId": event_id,
            }
        ).encode()
        received = at - timedelta(milliseconds=self.rng.uniform(50, 400))
        if duplicate:
            received += timedelta(seconds=self.rng.uniform(30, 3600))
        key = f"Payment:{banq_id}:{action}:{action}"
        self.tables["events"].add(
            self._pk("events"),
            body,
            len(body),
            "application/json",
            received,
            received + timedelta(milliseconds=self.rng.uniform(5, 40)),
            "duplicate" if duplicate else "processed",
            action,
            "Payment",
            banq_id,
            1,
            received,
            order_pk,
            attempt_pk,
            key,
            None if duplicate else key,
        )

    def _subscription(
        self,
        order_pk: int,
        plan: tuple[str, Decimal, str],
        created: datetime,
        paid_at: datetime | None,
        status: str,
        reference: str,
    ) -> None:
        """A monthly plan: pending until paid, ended when its order expired or was cancelled
        unpaid, else active with an installment for each month since the first payment."""
        product_name, amount, currency = plan
        pk = self._pk("subscriptions")
        start = (paid_at or created).date()
        if paid_at is None:
            state = "ended" if status in ("expired", "cancelled") else "pending"
            next_number = 0 if state == "pending" else None
            next_due = start if state == "pending" else None
        else:
            state = "active"
            months = 0
            while _add_months(start, months + 1) <= self.now.date():
                months += 1
            next_number, next_due = months + 1, _add_months(start, months + 1)
            for n in range(months + 1):
                self._installment(order_pk, pk, n, plan, start, paid_at, reference)
        self.tables["subscriptions"].add(
            pk,
            order_pk,
            product_name,
            "monthly",
            start,
            amount,
            currency,
            state,
            next_number,
            next_due,
            created,
            paid_at or created,
        )

    def _installment(
        self,
        order_pk: int,
        subscription_pk: int,
        n: int,
        plan: tuple[str, Decimal, str],
        start: date,
        paid_at: datetime,
        reference: str,
    ) -> None:
        _, amount, currency = plan
        due = _add_months(start, n)
        charged = (
            paid_at if n == 0 else datetime.combine(due, paid_at.timetz()) + timedelta(hours=1)
        )
        charged = min(charged, self.now)
        self.tables["installments"].add(
            self._pk("installments"),
            subscription_pk,
            n,
            self._banq_id(),
            reference,
            "paid",
            amount,
            currency,
            due,
            charged,
            "webhook",
            charged,
            charged,
        )
        if n:
            message = f"Installment {n + 1} recorded."
            self._history(order_pk, charged, "installment", "webhook", "", "", message)


def _max_pk(model: type[models.Model]) -> int:
    return model.objects.aggregate(m=models.Max("pk"))["m"] or 0


def seed_orders(
    *,
    count: int,
    days: float = 365,
    seed: int = 0,
    now: datetime | None = None,
    batch: int = 5000,
    progress: Callable[[int, int], None] | None = None,
) -> SeedResult:
    """Write ``count`` orders created over the ``days`` before ``now`` (see the module's
    docstring). Deterministic for a given ``seed`` and starting database. Raises
    ``ValueError`` when there is no active product to sell."""
    from django.utils import timezone

    seeder = OrderSeeder(
        count=count,
        days=days,
        seed=seed,
        now=now or timezone.now(),
        batch=batch,
        progress=progress,
    )
    return seeder.run()
