"""Sales over time for the admin index: paid orders and net revenue per day, per currency.

A day is a whole day in the store's time zone (``TIME_ZONE``). Money received on a day is the
totals of the orders paid that day (also those paid after cancellation: money received is money
received) plus the later installments of recurring plans charged that day (by the provider's
charge time; when it was recorded, if the provider gave none). Net revenue takes off the refunds
recorded that day: a refund counts on the day the merchant recorded it, as in the index's "paid
today / this week" lines. One aggregate query whatever the number of orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Model, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from orders.models import Installment, Order
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


def sales_window(*, days: int = SALES_DAYS, now: datetime | None = None) -> tuple[date, datetime]:
    """The first day of the last ``days`` days (today included) and its local midnight."""
    today = timezone.localdate(now or timezone.now())
    first = today - timedelta(days=days - 1)
    return first, datetime.combine(first, time.min, tzinfo=timezone.get_current_timezone())


ORDERS, INSTALLMENTS, REFUNDS = "orders", "installments", "refunds"


def _per_day(queryset: QuerySet, *, kind: str, moment: str, amount: str) -> QuerySet:
    """``queryset`` grouped by the local day of ``moment`` and by currency: rows of ``day``,
    ``currency``, ``kind``, ``count`` and the sum of ``amount``."""
    zone = timezone.get_current_timezone()
    return (
        queryset.annotate(day=TruncDate(moment, tzinfo=zone))
        .values("day", "currency")
        .annotate(kind=Value(kind), count=Count("pk"), amount=Sum(amount))
        .order_by()
    )


def _refund_model() -> type[Model] | None:
    """The model of an order's recorded refunds (``Order.refunds``), if the store records any."""
    descriptor = getattr(Order, "refunds", None)
    return descriptor.rel.related_model if descriptor is not None else None


def sales_per_day(*, days: int = SALES_DAYS, now: datetime | None = None) -> list[SalesSeries]:
    """Paid orders, money received, refunds and net revenue for each of the last ``days`` days
    (today included), one series per currency that had any, currencies in alphabetical order.
    One query (the three groupings in one ``UNION ALL``)."""
    first, since = sales_window(days=days, now=now)
    parts = [
        _per_day(
            Order.objects.filter(paid_at__gte=since), kind=ORDERS, moment="paid_at", amount="total"
        ),
        _per_day(
            Installment.objects.annotate(charged=Coalesce("occurred_at", "recorded_at")).filter(
                status=Installment.Status.PAID, number__gte=1, charged__gte=since
            ),
            kind=INSTALLMENTS,
            moment="charged",
            amount="amount",
        ),
    ]
    refund_model = _refund_model()
    if refund_model is not None:
        refunds = refund_model.objects.filter(created_at__gte=since)
        parts.append(_per_day(refunds, kind=REFUNDS, moment="created_at", amount="amount"))
    found: dict[tuple[date, str, str], dict] = {}
    for row in parts[0].union(*parts[1:], all=True):
        found[row["day"], row["currency"], row["kind"]] = row
    currencies = sorted({currency for _, currency, _ in found})
    calendar = [first + timedelta(days=n) for n in range(days)]
    return [
        SalesSeries(currency, [_day(day, currency, found) for day in calendar])
        for currency in currencies
    ]


def _day(day: date, currency: str, found: dict) -> SalesDay:
    def amount(kind: str) -> Decimal:
        row = found.get((day, currency, kind))
        return quantize_money(row["amount"] or 0) if row else ZERO  # SQLite: back to cents

    paid = found.get((day, currency, ORDERS))
    return SalesDay(
        day=day,
        orders=paid["count"] if paid else 0,
        received=amount(ORDERS) + amount(INSTALLMENTS),
        refunded=amount(REFUNDS),
    )
