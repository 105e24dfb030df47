"""The rules of an order's status, which write nothing: the transition table, which orders a
shopper can still pay, and which are past their payment time.

``orders.services.status`` (the status machine, the one writer) follows them; the order page, its
status JSON (``orders.notifications``) and the provider's link endpoint read them too. Kept apart
from the writer so that readers need nothing that writes (no import cycle through the side
effects).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from orders.exceptions import OrderNotPayable
from orders.models import Order

S = Order.Status

ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.AWAITING_PAYMENT, S.PAID, S.CANCELLED, S.EXPIRED},
    S.AWAITING_PAYMENT: {S.PAID, S.FAILED, S.CANCELLED, S.EXPIRED},
    S.FAILED: {S.AWAITING_PAYMENT, S.PAID, S.CANCELLED, S.EXPIRED},
    S.EXPIRED: {S.PAID},  # only through a verified payment: expiry times out unpaid orders only
    S.PAID: set(),
    S.CANCELLED: set(),  # a payment after cancellation is recorded, flagged for a refund
}
# Orders a shopper can still pay, and the ones expiry times out.
PAYABLE = (S.PENDING, S.AWAITING_PAYMENT, S.FAILED)
EXPIRABLE = PAYABLE

NOT_PAYABLE_MESSAGES = {
    "paid": "This order is already paid.",
    "cancelled": "This order was cancelled and can no longer be paid.",
    "expired": "This order has expired. Please place a new order.",
    "empty": "This order has nothing to pay.",
}


def order_can_transition(*, current: str, target: str) -> bool:
    return target in ALLOWED_TRANSITIONS.get(current, set())


# --- payable, expired ------------------------------------------------------------------------


def order_expiry_cutoff(*, now: datetime | None = None, minutes: int | None = None) -> datetime:
    """Orders created at or before this moment are past their payment time."""
    minutes = settings.ORDER_EXPIRY_MINUTES if minutes is None else minutes
    return (now or timezone.now()) - timedelta(minutes=minutes)


def order_stale_q(*, now: datetime | None = None, minutes: int | None = None) -> models.Q:
    """The queryset form of ``order_is_stale``."""
    return models.Q(
        status__in=EXPIRABLE,
        paid_at__isnull=True,
        created_at__lte=order_expiry_cutoff(now=now, minutes=minutes),
    )


def order_is_stale(
    *, order: Order, now: datetime | None = None, minutes: int | None = None
) -> bool:
    """Unpaid past its payment time (whether or not it has been expired yet)."""
    return (
        order.status in EXPIRABLE
        and order.paid_at is None
        and order.created_at <= order_expiry_cutoff(now=now, minutes=minutes)
    )


def order_check_payable(*, order: Order, now: datetime | None = None) -> None:
    """Raise ``OrderNotPayable`` (a message for the shopper, a ``reason`` word) unless the
    shopper can pay ``order`` now."""
    if order.paid_at is not None or order.status == S.PAID:
        reason = "paid"
    elif order.status == S.CANCELLED:
        reason = "cancelled"
    elif order.status == S.EXPIRED or order_is_stale(order=order, now=now):
        reason = "expired"
    elif order.status not in PAYABLE:
        raise OrderNotPayable(reason=str(order.status))
    elif order.total is None or order.total <= Decimal("0"):
        reason = "empty"
    else:
        return
    raise OrderNotPayable(NOT_PAYABLE_MESSAGES[reason], reason=reason)


def order_is_payable(*, order: Order, now: datetime | None = None) -> bool:
    try:
        order_check_payable(order=order, now=now)
    except OrderNotPayable:
        return False
    return True


# The statuses an order can be cancelled from.
CANCELLABLE = tuple(s for s, targets in ALLOWED_TRANSITIONS.items() if S.CANCELLED in targets)
