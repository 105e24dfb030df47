"""Recurring plans in words and as JSON: what the cart, checkout, the order page, its status
payload, e-mails and the admin say about a plan and its installments. Reads only.

Installments count from 0 in the data (0 is the order's own payment); shoppers read them from 1
("Payment 2 of 12"). Dates are the store's local dates (``TIME_ZONE``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from orders.models import Installment, Order, Product, Subscription
from orders.money import format_money
from orders.payments import provider_label
from orders.recurring import Plan

# What the shopper sees of a subscription's installments (rejected and duplicate charges are for
# the merchant: they are flagged in the admin).
SHOPPER_STATUSES = (Installment.Status.PAID, Installment.Status.FAILED)


def day_words(value: date | datetime | None) -> str:
    """``25 Nov 2026`` (a datetime in the store's time zone); empty for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localdate(value)
    return f"{value.day} {value:%b %Y}"


def product_plan(product: Product, *, today: date | None = None) -> Plan | None:
    """The plan ``product`` would get bought today; None for one-time products and for plans
    that can no longer start (their last date has passed)."""
    try:
        return product.plan(start=today or timezone.localdate())
    except ValueError:
        return None


def product_plan_words(product: Product, *, today: date | None = None) -> str:
    """``$9.90 every month, starting today, 12 payments, last on 25 Oct 2027``; empty for a
    one-time product."""
    today = today or timezone.localdate()
    plan = product_plan(product, today=today)
    if plan is None:
        return ""
    return plan.describe(format_money(product.price, product.currency), today=today)


def subscription_plan_words(subscription: Subscription, *, today: date | None = None) -> str:
    return subscription.plan.describe(
        format_money(subscription.amount, subscription.currency),
        today=today or timezone.localdate(),
    )


def _of(plan: Plan, number: int) -> str:
    count = plan.count
    return f"Payment {number + 1}" + (f" of {count}" if count is not None else "")


def installment_words(installment: Installment, subscription: Subscription) -> str:
    """One installment as the shopper reads it."""
    plan = subscription.plan
    amount = (
        format_money(installment.amount, installment.currency)
        if installment.amount is not None
        else format_money(subscription.amount, subscription.currency)
    )
    head = _of(plan, installment.number)
    cancelled = subscription.cancelled_at
    if (
        cancelled is not None
        and installment.number >= 1
        and installment.recorded_at is not None
        and installment.recorded_at > cancelled
        and installment.status != Installment.Status.FAILED
    ):
        taken = day_words(installment.occurred_at or installment.recorded_at)
        refunded = sum((r.amount for r in installment.refunds.all()), Decimal("0"))
        if installment.amount is not None and refunded >= installment.amount:
            return f"{head}: {amount} taken on {taken}, after the plan was cancelled: refunded."
        return (
            f"{head}: {amount} taken on {taken}, after the plan was cancelled: it will be "
            "refunded to you."
        )
    if installment.status == Installment.Status.FAILED:
        due = f", due {day_words(installment.due_date)}" if installment.due_date else ""
        reason = installment.fail_text or f"{provider_label()} declined it."
        return f"{head}{due}: {amount} did not go through. {reason}"
    when = installment.occurred_at or installment.recorded_at
    return f"{head}: {amount} paid on {day_words(when)}."


def next_words(subscription: Subscription) -> str:
    """What is expected next, in words."""
    plan = subscription.plan
    if subscription.state == Subscription.State.CANCELLED:
        return (
            f"The plan was cancelled on {day_words(subscription.cancelled_at)}: no more payments "
            "are due."
        )
    if subscription.state == Subscription.State.ENDED:
        count = plan.count
        return "The plan has ended: no more payments are due." if count else ""
    if subscription.state == Subscription.State.PENDING or subscription.next_number is None:
        return ""
    amount = format_money(subscription.amount, subscription.currency)
    return (
        f"Next: {_of(plan, subscription.next_number).lower()}, {amount}, "
        f"expected on {day_words(subscription.next_due_date)}."
    )


def subscription_of(order: Order) -> Subscription | None:
    """The order's subscription (one query), or None for a one-time order (no query)."""
    if not order.recurring:
        return None
    return Subscription.objects.filter(order_id=order.pk).first()


def _shown_to_shopper(rows: list[Installment], subscription: Subscription) -> list[Installment]:
    """The installments the shopper sees: paid and failed, but not an attempt that failed after
    the plan was cancelled (it took nothing: the merchant's business, flagged)."""
    cancelled = subscription.cancelled_at
    return [
        i
        for i in rows
        if i.status in SHOPPER_STATUSES
        and not (cancelled and i.status == Installment.Status.FAILED and i.recorded_at > cancelled)
    ]


def plan_payload(order: Order) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """``(plan, installments)`` for ``order``'s status payload: ``(None, [])`` for a one-time
    order (without a query). Amounts are strings, dates ISO; installment numbers count from 1
    (``number``, ``next_number``), as the shopper reads them; ``text`` fields are the words the
    page shows. Three queries for a recurring order."""
    subscription = subscription_of(order)
    if subscription is None:
        return None, []
    plan = subscription.plan
    rows = list(subscription.installments.prefetch_related("refunds"))
    shown = _shown_to_shopper(rows, subscription)
    last = plan.last_due
    paid = sum(1 for i in rows if i.status == Installment.Status.PAID)
    return (
        {
            "product": subscription.product_name,
            "frequency": subscription.frequency,
            "amount": str(subscription.amount),
            "currency": subscription.currency,
            "start_date": subscription.start_date.isoformat(),
            "end_date": subscription.end_date.isoformat() if subscription.end_date else None,
            "periods": subscription.periods,
            "count": plan.count,
            "last_date": last.isoformat() if last else None,
            "description": subscription_plan_words(subscription),
            "state": subscription.state,
            "state_display": subscription.get_state_display(),
            # A cancelled plan's page keeps listening: a charge may still come (it is refunded).
            "live": subscription.state in (Subscription.State.ACTIVE, Subscription.State.CANCELLED),
            "cancelled": subscription.state == Subscription.State.CANCELLED,
            "cancelled_at": (
                subscription.cancelled_at.isoformat() if subscription.cancelled_at else None
            ),
            "paid_count": paid,
            "next_number": (
                subscription.next_number + 1 if subscription.next_number is not None else None
            ),
            "next_date": (
                subscription.next_due_date.isoformat() if subscription.next_due_date else None
            ),
            "next_text": next_words(subscription),
        },
        [
            {
                "number": i.number + 1,
                "status": i.status,
                "amount": str(i.amount) if i.amount is not None else None,
                "currency": i.currency,
                "due_date": i.due_date.isoformat() if i.due_date else None,
                "at": (i.occurred_at or i.recorded_at).isoformat(),
                "reason": i.fail_text or None,
                "text": installment_words(i, subscription),
            }
            for i in shown
        ],
    )
