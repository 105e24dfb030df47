"""Sales over time for the admin index: paid orders and net revenue per day, per currency.

A day is a whole day in the store's time zone (``TIME_ZONE``). Money received on a day is the
totals of the orders paid that day (also those paid after cancellation: money received is money
received) plus the later installments of recurring plans charged that day (by the provider's
charge time; when it was recorded, if the provider gave none). Net revenue takes off the refunds
recorded that day: a refund counts on the day the merchant recorded it, as in the index's "paid
today / this week" lines. One query whatever the number of orders; days are found by comparing
with the window's local midnights, so daylight saving time changes keep whole local days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Case, Count, IntegerField, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders.models import Installment, Order, Refund
from orders.money import quantize_money

SALES_DAYS = 30
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class SalesDay:
    day: date
    orders: int = 0  # orders paid that day
    received: Decimal = ZERO  # their totals, and the installments charged that day
    refunded: Decimal = ZERO  # refunds recorded that day

    @property
    def net(self) -> Decimal:
        return self.received - self.refunded


@dataclass(frozen=True)
class SalesSeries:
    """One currency's days, oldest first, every day of the window (days without sales too)."""

    currency: str
    days: list[SalesDay] = field(default_factory=list)

    @property
    def orders(self) -> int:
        return sum(day.orders for day in self.days)

    @property
    def received(self) -> Decimal:
        return sum((day.received for day in self.days), ZERO)

    @property
    def refunded(self) -> Decimal:
        return sum((day.refunded for day in self.days), ZERO)

    @property
    def net(self) -> Decimal:
        return self.received - self.refunded


def sales_window(*, days: int = SALES_DAYS, now: datetime | None = None) -> list[datetime]:
    """The local midnights that bound the last ``days`` days (today included): the start of each
    day, then the end of today; ``days + 1`` of them."""
    today = timezone.localdate(now or timezone.now())
    zone = timezone.get_current_timezone()
    first = today - timedelta(days=days - 1)
    return [
        datetime.combine(first + timedelta(days=n), time.min, tzinfo=zone) for n in range(days + 1)
    ]


ORDERS, INSTALLMENTS, REFUNDS = "orders", "installments", "refunds"


def _per_day(
    queryset: QuerySet, *, kind: str, moment: str, amount: str, midnights: list[datetime]
) -> QuerySet:
    """``queryset``'s rows whose ``moment`` falls in the window, grouped by day (its number in the
    window, 0 the first) and currency: rows of ``day``, ``currency``, ``kind``, ``count`` and the
    sum of ``amount``. The day is found by comparing with the window's midnights, computed here
    in the store's time zone (daylight saving time included), rather than by converting every
    row's time to local time in the database (a Python function per row on SQLite)."""
    day = Case(
        *(
            When(**{f"{moment}__lt": midnight}, then=Value(n))
            for n, midnight in enumerate(midnights[1:])
        ),
        output_field=IntegerField(),
    )
    window = {f"{moment}__gte": midnights[0], f"{moment}__lt": midnights[-1]}
    return (
        queryset.filter(**window)
        .annotate(day=day)
        .values("day", "currency")
        .annotate(kind=Value(kind), count=Count("*"), amount=Sum(amount))
        .order_by()
    )


def sales_per_day(*, days: int = SALES_DAYS, now: datetime | None = None) -> list[SalesSeries]:
    """Paid orders, money received, refunds and net revenue for each of the last ``days`` days
    (today included), one series per currency that had any, currencies in alphabetical order.
    One query (the three groupings in one ``UNION ALL``)."""
    midnights = sales_window(days=days, now=now)
    parts = [
        _per_day(
            Order.objects.all(), kind=ORDERS, moment="paid_at", amount="total", midnights=midnights
        ),
        _per_day(
            Installment.objects.annotate(charged=Coalesce("occurred_at", "recorded_at")).filter(
                status=Installment.Status.PAID, number__gte=1
            ),
            kind=INSTALLMENTS,
            moment="charged",
            amount="amount",
            midnights=midnights,
        ),
        _per_day(
            Refund.objects.all(),
            kind=REFUNDS,
            moment="created_at",
            amount="amount",
            midnights=midnights,
        ),
    ]
    found: dict[tuple[int, str, str], dict] = {}
    for row in parts[0].union(*parts[1:], all=True):
        found[row["day"], row["currency"], row["kind"]] = row
    currencies = sorted({currency for _, currency, _ in found})
    return [
        SalesSeries(
            currency,
            [_day(n, midnights[n].date(), currency, found) for n in range(days)],
        )
        for currency in currencies
    ]


def _day(n: int, day: date, currency: str, found: dict) -> SalesDay:
    def amount(kind: str) -> Decimal:
        row = found.get((n, currency, kind))
        return quantize_money(row["amount"] or 0) if row else ZERO  # SQLite: back to cents

    paid = found.get((n, currency, ORDERS))
    return SalesDay(
        day=day,
        orders=paid["count"] if paid else 0,
        received=amount(ORDERS) + amount(INSTALLMENTS),
        refunded=amount(REFUNDS),
    )
