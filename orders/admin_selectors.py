"""Reads for the merchant admin: "needs attention", "paid within" and "installments received
within" as querysets and counts.

The admin's list filters and the index summary use the same functions, so a count on the index
and the list its link opens always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from orders.models import Installment, Order, OrderFlag, Refund
from orders.money import quantize_money
from orders.services import PAYABLE, order_stale_q

PENDING_TOO_LONG = "pending_too_long"
UNCONFIRMED_CLAIM = "unconfirmed_claim"
ANY_ATTENTION = "any"
PAID_TODAY = "today"
PAID_WEEK = "week"
# Reasons beside the flag kinds (OrderFlag.Kind), in the order the filter lists them.
COMPUTED_REASONS = {
    UNCONFIRMED_CLAIM: "Shopper reported a payment not confirmed",
    PENDING_TOO_LONG: "Past its payment time, not expired",
}


def open_flags(kind: str | None = None) -> Exists:
    flags = OrderFlag.objects.filter(order=OuterRef("pk"), resolved_at__isnull=True)
    return Exists(flags.filter(kind=kind) if kind else flags)


def order_unconfirmed_claim_q(*, now: datetime | None = None) -> Q:
    """The shopper's page reported a payment that is still not confirmed after
    ``ORDER_CLAIM_ATTENTION_MINUTES``."""
    cutoff = (now or timezone.now()) - timedelta(minutes=settings.ORDER_CLAIM_ATTENTION_MINUTES)
    return Q(paid_at__isnull=True, status__in=PAYABLE, payment_claimed_at__lte=cutoff)


# Past this many orders with an open flag, "needs attention" matches them with a subquery rather
# than by their keys (a list of keys that long would be a statement of its own).
FLAGGED_KEYS_MAX = 5000


def _flagged(kind: str | None = None) -> Q:
    """Orders with an open flag (of ``kind``): their keys, read from the flags' own index, so the
    condition can be combined with others and still use the orders' indexes (an EXISTS under an
    OR makes the database test every order)."""
    flags = OrderFlag.objects.filter(resolved_at__isnull=True)
    if kind:
        flags = flags.filter(kind=kind)
    keys = list(
        flags.order_by().values_list("order_id", flat=True).distinct()[: FLAGGED_KEYS_MAX + 1]
    )
    if len(keys) > FLAGGED_KEYS_MAX:
        return Q(open_flags(kind))
    return Q(pk__in=keys)


def order_needs_attention_q(*, reason: str = ANY_ATTENTION, now: datetime | None = None) -> Q:
    """The orders a merchant should look at, for one ``reason`` (an ``OrderFlag.Kind`` value,
    ``unconfirmed_claim`` or ``pending_too_long``) or for any of them (``any``): an open flag, a
    shopper's unconfirmed payment, or an order past its payment time that could not be expired
    (the payment provider could not be asked). Raises ``ValueError`` for another reason.

    A flag reason reads the flagged orders' keys now (one query on the flags); the other two
    are conditions on open orders, which their partial index serves whatever the number of
    closed orders."""
    if reason == ANY_ATTENTION:
        return _flagged() | order_unconfirmed_claim_q(now=now) | order_stale_q(now=now)
    if reason == PENDING_TOO_LONG:
        return order_stale_q(now=now)
    if reason == UNCONFIRMED_CLAIM:
        return order_unconfirmed_claim_q(now=now)
    if reason in OrderFlag.Kind.values:
        return _flagged(reason)
    raise ValueError(f"unknown attention reason {reason!r}")


def order_needs_attention_count(*, now: datetime | None = None) -> int:
    """How many orders need attention for any reason (``order_needs_attention_q(reason="any")``
    lists them): one query, the union of the orders with an open flag and the open orders past
    their payment time or with an unconfirmed payment, each read from its own index."""
    flagged = OrderFlag.objects.filter(resolved_at__isnull=True).order_by().values("order_id")
    waiting = (
        Order.objects.filter(order_unconfirmed_claim_q(now=now) | order_stale_q(now=now))
        .order_by()
        .values("pk")
    )
    return flagged.union(waiting).count()


def paid_since(*, period: str, now: datetime | None = None) -> datetime:
    """The start of ``today`` (local midnight) or of this ``week`` (local Monday midnight)."""
    local = timezone.localtime(now or timezone.now())
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == PAID_TODAY:
        return midnight
    if period == PAID_WEEK:
        return midnight - timedelta(days=midnight.weekday())
    raise ValueError(f"unknown period {period!r}")


def order_paid_within_q(*, period: str, now: datetime | None = None) -> Q:
    """Orders whose payment was received in ``period`` (also those paid after cancellation:
    money received is money received)."""
    return Q(paid_at__gte=paid_since(period=period, now=now))


def installment_received_within_q(*, period: str, now: datetime | None = None) -> Q:
    """A recurring plan's later installments (not the first payment: that is its order's) paid in
    ``period``, by the provider's charge time (when it was recorded, if it gave none)."""
    since = paid_since(period=period, now=now)
    return Q(status=Installment.Status.PAID, number__gte=1) & (
        Q(occurred_at__gte=since) | Q(occurred_at__isnull=True, recorded_at__gte=since)
    )


def subscription_installment_received_within(*, period: str, now: datetime | None = None) -> Exists:
    """Subscriptions with a later installment received in ``period``."""
    return Exists(
        Installment.objects.filter(
            installment_received_within_q(period=period, now=now), subscription=OuterRef("pk")
        )
    )


@dataclass(frozen=True)
class PaidTotal:
    """Received in a period, in one currency: ``count`` payments summing ``total``, and the
    refunds recorded in the same period (``refunded``); ``net`` is what the shop kept."""

    currency: str
    count: int
    total: Decimal
    refunded: Decimal = Decimal("0.00")

    @property
    def net(self) -> Decimal:
        return self.total - self.refunded


@dataclass(frozen=True)
class Received:
    """Money received in a period: a count and an exact sum per currency."""

    totals: list[PaidTotal]

    @property
    def count(self) -> int:
        return sum(t.count for t in self.totals)


@dataclass(frozen=True)
class OrderSummary:
    paid_today: Received
    paid_week: Received
    needs_attention: int
    installments_today: Received
    installments_week: Received


def _totals(queryset, *, amount: str, today: Q) -> tuple[Received, Received]:
    """``(today, week)`` counts and Decimal sums per currency of ``queryset`` (the week's rows),
    ``today`` picking the day's among them: one query."""
    rows = (
        queryset.values("currency")
        .annotate(
            week_count=Count("pk"),
            week_total=Sum(amount),
            today_count=Count("pk", filter=today),
            today_total=Sum(amount, filter=today),
        )
        .order_by("currency")
    )
    paid_today: list[PaidTotal] = []
    paid_week: list[PaidTotal] = []
    for row in rows:
        # SQLite sums decimals with spurious places: back to cents.
        paid_week.append(
            PaidTotal(row["currency"], row["week_count"], quantize_money(row["week_total"] or 0))
        )
        if row["today_count"]:
            paid_today.append(
                PaidTotal(
                    row["currency"], row["today_count"], quantize_money(row["today_total"] or 0)
                )
            )
    return Received(paid_today), Received(paid_week)


def refund_recorded_within_q(*, period: str, now: datetime | None = None) -> Q:
    """Refunds recorded in ``period``: they come off that period's money received."""
    return Q(created_at__gte=paid_since(period=period, now=now))


def _refunds(*, now: datetime) -> dict[tuple[bool, str, str], Decimal]:
    """``{(of an installment, period, currency): sum}`` of the refunds recorded today and this
    week: one query."""
    today = refund_recorded_within_q(period=PAID_TODAY, now=now)
    rows = (
        Refund.objects.filter(refund_recorded_within_q(period=PAID_WEEK, now=now))
        .annotate(of_installment=Q(installment__isnull=False))
        .values("of_installment", "currency")
        .annotate(week=Sum("amount"), today=Sum("amount", filter=today))
        .order_by()
    )
    found: dict[tuple[bool, str, str], Decimal] = {}
    for row in rows:
        for period, amount in ((PAID_TODAY, row["today"]), (PAID_WEEK, row["week"])):
            if amount:
                key = (bool(row["of_installment"]), period, row["currency"])
                found[key] = found.get(key, Decimal(0)) + quantize_money(amount)
    return found


def _net(received: Received, refunds: dict, *, installments: bool, period: str) -> Received:
    """``received`` with the period's refunds set against it, per currency (a currency with
    refunds and no payment in the period too)."""
    totals = {t.currency: t for t in received.totals}
    for (of_installment, when, currency), amount in refunds.items():
        if of_installment != installments or when != period:
            continue
        got = totals.get(currency, PaidTotal(currency, 0, Decimal("0.00")))
        totals[currency] = PaidTotal(currency, got.count, got.total, got.refunded + amount)
    return Received([totals[c] for c in sorted(totals)])


def order_admin_summary(*, now: datetime | None = None) -> OrderSummary:
    """Orders paid today / this week and the later installments of recurring plans received
    today / this week (count and Decimal sum per currency), each net of the refunds recorded in
    the same period (refunds of the order's payment against the orders, of an installment
    against the installments), and the attention count: money received is the two together.

    Four queries whatever the number of orders (the refunds' included; the attention count is
    one), each on an index.
    """
    now = now or timezone.now()
    paid_today, paid_week = _totals(
        Order.objects.filter(order_paid_within_q(period=PAID_WEEK, now=now)),
        amount="total",
        today=order_paid_within_q(period=PAID_TODAY, now=now),
    )
    installments_today, installments_week = _totals(
        Installment.objects.filter(installment_received_within_q(period=PAID_WEEK, now=now)),
        amount="amount",
        today=installment_received_within_q(period=PAID_TODAY, now=now),
    )
    attention = order_needs_attention_count(now=now)
    refunds = _refunds(now=now)
    return OrderSummary(
        paid_today=_net(paid_today, refunds, installments=False, period=PAID_TODAY),
        paid_week=_net(paid_week, refunds, installments=False, period=PAID_WEEK),
        needs_attention=attention,
        installments_today=_net(installments_today, refunds, installments=True, period=PAID_TODAY),
        installments_week=_net(installments_week, refunds, installments=True, period=PAID_WEEK),
    )
