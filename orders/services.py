"""Writes to orders. The one place where an order's status changes.

``ALLOWED_TRANSITIONS`` is the table from STYLE.md "State transitions". ``order_mark_paid`` is
the one way into ``paid``; everything else goes through ``order_set_status``. Both lock the order
row, and their side effects (browser push, ``order_paid`` signal, confirmation e-mail) run only
after commit and only when something really changed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from orders import notifications
from orders.exceptions import InvalidOrderTransition
from orders.models import Order

logger = logging.getLogger(__name__)

S = Order.Status

ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.AWAITING_PAYMENT, S.CANCELLED, S.EXPIRED},
    S.AWAITING_PAYMENT: {S.PAID, S.FAILED, S.CANCELLED, S.EXPIRED},
    S.FAILED: {S.AWAITING_PAYMENT, S.CANCELLED},
    S.PAID: set(),
    S.CANCELLED: set(),
    S.EXPIRED: set(),
}

# States from which a verified banq payment still marks the order paid (STYLE.md: a confirmed
# payment is never dropped). pending/failed move to paid although the table has no such edge;
# cancelled/expired keep their status and the order is flagged for the merchant.
PAYABLE_ANYWAY = {S.PENDING, S.FAILED}
FLAG_WHEN_PAID = {S.CANCELLED, S.EXPIRED}


def order_can_transition(*, current: str, target: str) -> bool:
    return target in ALLOWED_TRANSITIONS.get(current, set())


def _lock(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


def order_set_status(*, order: Order, status: str) -> Order:
    """Move ``order`` to ``status`` if the table allows it.

    A move to the current status is a no-op. Raises ``InvalidOrderTransition`` otherwise; nothing is
    written then. ``paid`` is refused here: use ``order_mark_paid``. Returns the fresh order.
    """
    if status == S.PAID:
        raise InvalidOrderTransition(order.status, status)
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == status:
            return locked
        if not order_can_transition(current=locked.status, target=status):
            raise InvalidOrderTransition(locked.status, status)
        previous = locked.status
        locked.status = status
        locked.status_changed_at = timezone.now()
        locked.save(update_fields=["status", "status_changed_at", "updated_at"])
        logger.info("Order %s: %s -> %s", locked.public_id, previous, status)
        transaction.on_commit(lambda: notifications.status_changed(order=locked, previous=previous))
    _copy_into(order, locked)
    return locked


def order_mark_paid(
    *, order: Order, payment_reference: str, paid_at: datetime | None = None
) -> tuple[Order, bool]:
    """Record a payment that banq confirmed (the caller has verified it).

    Returns ``(order, changed)``; ``changed`` is False when the order was already paid
    (redeliveries are normal), so callers can count real transitions. A cancelled or expired order
    keeps its status but records the payment and is flagged ``paid_after_cancellation``. The caller
    has verified the payment with banq; this function does not talk to banq.
    """
    with transaction.atomic():
        locked = _lock(order)
        if locked.paid_at is not None:
            _copy_into(order, locked)
            return locked, False
        now = timezone.now()
        previous = locked.status
        locked.paid_at = paid_at or now
        locked.payment_reference = payment_reference[:64]
        fields = ["paid_at", "payment_reference", "updated_at"]
        if previous in FLAG_WHEN_PAID:
            locked.attention = Order.Attention.PAID_AFTER_CANCELLATION
            locked.attention_note = (
                f"banq payment {payment_reference} completed after the order was {previous}: "
                "refund it or fulfil the order."
            )
            fields += ["attention", "attention_note"]
            logger.warning(
                "Order %s: paid after it was %s (banq payment %s)",
                locked.public_id,
                previous,
                payment_reference,
            )
        elif previous in PAYABLE_ANYWAY or order_can_transition(current=previous, target=S.PAID):
            locked.status = S.PAID
            locked.status_changed_at = now
            fields += ["status", "status_changed_at"]
            logger.info("Order %s: paid (banq payment %s)", locked.public_id, payment_reference)
        else:  # pragma: no cover - every status is covered by the branches above
            raise InvalidOrderTransition(previous, S.PAID)
        locked.save(update_fields=fields)
        transaction.on_commit(lambda: notifications.paid(order=locked, previous=previous))
    _copy_into(order, locked)
    return locked, True


def _copy_into(target: Order, source: Order) -> None:
    """Refresh the caller's instance in place so it doesn't keep a stale status."""
    if target is source:
        return
    for field in (
        "status",
        "status_changed_at",
        "paid_at",
        "payment_reference",
        "attention",
        "attention_note",
        "updated_at",
    ):
        setattr(target, field, getattr(source, field))
