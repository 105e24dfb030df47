"""Fulfilment, apart from payment: a paid order that ships is ``unfulfilled``, then ``shipped``
(carrier, tracking number, tracking URL), then, optionally, ``delivered``.

Like ``order_mark_paid``, each move locks the order's row, returns it untouched when it already
happened (two merchants clicking "Mark shipped" at once make one change), writes the history
line, and enqueues the shopper's e-mail in the same transaction (the outbox); the open order page
hears of it after the commit. Only a paid order ships: not a pending, expired or cancelled one
(a payment after cancellation is to be refunded, not fulfilled), nor one refunded in full.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from orders import notifications
from orders.exceptions import CheckoutError, FulfilmentError
from orders.locks import order_lock
from orders.models import REFUNDED, Order, OrderEvent
from orders.outbox import outbox_enqueue
from orders.services.history import order_history_add
from orders.services.shipping import address_text_clean
from orders.services.status import order_copy_status
from orders.tasks import order_email_send

logger = logging.getLogger(__name__)

F = Order.Fulfilment
CARRIER_MAX = 100
TRACKING_NUMBER_MAX = 100
TRACKING_URL_MAX = 500
_tracking_url_validator = URLValidator(schemes=["http", "https"])


def _text(value: object, *, field: str, label: str, maximum: int, required: bool) -> str:
    try:
        return address_text_clean(
            value, field=field, label=label, maximum=maximum, required=required
        )
    except CheckoutError as exc:
        raise FulfilmentError(str(exc), field=field) from None


def tracking_url_clean(value: object) -> str:
    """An optional tracking link: ``http`` or ``https`` only (never ``javascript:``, ``data:``
    or a relative path), at most 500 characters. Raises ``FulfilmentError``."""
    text = _text(
        value,
        field="tracking_url",
        label="the tracking URL",
        maximum=TRACKING_URL_MAX,
        required=False,
    )
    if not text:
        return ""
    try:
        _tracking_url_validator(text)
    except ValidationError:
        raise FulfilmentError(
            "Please enter a tracking URL that starts with https:// or http://.",
            field="tracking_url",
        ) from None
    return text


def shipment_details_clean(
    *, carrier: object, tracking_number: object = "", tracking_url: object = ""
) -> tuple[str, str, str]:
    """``(carrier, tracking number, tracking URL)``, cleaned: the carrier is required, the
    other two are optional. Raises ``FulfilmentError`` naming the field at fault."""
    return (
        _text(carrier, field="carrier", label="the carrier", maximum=CARRIER_MAX, required=True),
        _text(
            tracking_number,
            field="tracking_number",
            label="the tracking number",
            maximum=TRACKING_NUMBER_MAX,
            required=False,
        ),
        tracking_url_clean(tracking_url),
    )


def order_check_shippable(*, order: Order) -> None:
    """Raise ``FulfilmentError`` unless ``order`` can be marked shipped now (or already is)."""
    if not order.requires_shipping:
        raise FulfilmentError(f"Order {order.number} has nothing to ship.")
    if order.status == Order.Status.CANCELLED:
        raise FulfilmentError(f"Order {order.number} was cancelled: it can't be shipped.")
    if order.paid_at is None or order.status != Order.Status.PAID:
        raise FulfilmentError(f"Order {order.number} is not paid: it can't be shipped yet.")
    if order.refund_state == REFUNDED:
        raise FulfilmentError(f"Order {order.number} was refunded in full: it can't be shipped.")


def order_ship(
    *,
    order: Order,
    carrier: str,
    tracking_number: str = "",
    tracking_url: str = "",
    source: str = OrderEvent.Source.ADMIN,
    actor: str = "",
) -> tuple[Order, bool]:
    """Mark a paid order shipped, with the carrier and the parcel's tracking number and URL.

    Returns ``(order, changed)``: ``changed`` is False when it was already shipped (or
    delivered); nothing is written then, and no second e-mail leaves. Raises
    ``FulfilmentError`` for an order that is not paid, is cancelled or has nothing to ship, or
    for bad details; nothing is written then either. The "shipped" e-mail is enqueued in the
    same transaction (``orders.outbox``).
    """
    carrier, tracking_number, tracking_url = shipment_details_clean(
        carrier=carrier, tracking_number=tracking_number, tracking_url=tracking_url
    )
    with transaction.atomic():
        locked = order_lock(pk=order.pk)
        if locked.fulfilment_status in (F.SHIPPED, F.DELIVERED):
            _copy_fulfilment(order, locked)
            return locked, False
        order_check_shippable(order=locked)
        previous = locked.fulfilment_status
        locked.fulfilment_status = F.SHIPPED
        locked.carrier = carrier
        locked.tracking_number = tracking_number
        locked.tracking_url = tracking_url
        locked.shipped_at = timezone.now()
        locked.save(
            update_fields=[
                "fulfilment_status",
                "carrier",
                "tracking_number",
                "tracking_url",
                "shipped_at",
                "updated_at",
            ]
        )
        order_history_add(
            order=locked,
            kind=OrderEvent.Kind.SHIPPED,
            source=source,
            actor=actor,
            message=_shipped_words(locked),
            data={
                "fulfilment": {"from": previous, "to": F.SHIPPED},
                "carrier": carrier,
                "tracking_number": tracking_number,
                "tracking_url": tracking_url,
            },
        )
        outbox_enqueue(order_email_send, locked.pk, notifications.EMAIL_SHIPPED)
        transaction.on_commit(lambda: notifications.push_status(order=locked))
    logger.info("Order %s: shipped with %s (%s)", locked.public_id, carrier, source)
    _copy_fulfilment(order, locked)
    return locked, True


def order_tracking_correct(
    *,
    order: Order,
    carrier: str,
    tracking_number: str = "",
    tracking_url: str = "",
    source: str = OrderEvent.Source.ADMIN,
    actor: str = "",
) -> tuple[Order, bool]:
    """Correct a shipped (or delivered) order's carrier, tracking number or URL (a typo). A
    history line records the old and the new details; the open page shows them at once; no
    second e-mail. ``(order, changed)``: False when nothing differs. Raises ``FulfilmentError``
    for an order not shipped yet (use ``order_ship``) or for bad details."""
    details = shipment_details_clean(
        carrier=carrier, tracking_number=tracking_number, tracking_url=tracking_url
    )
    with transaction.atomic():
        locked = order_lock(pk=order.pk)
        if locked.fulfilment_status not in (F.SHIPPED, F.DELIVERED):
            raise FulfilmentError(f"Order {locked.number} has not been shipped: mark it shipped.")
        before = (locked.carrier, locked.tracking_number, locked.tracking_url)
        if before == details:
            _copy_fulfilment(order, locked)
            return locked, False
        locked.carrier, locked.tracking_number, locked.tracking_url = details
        locked.save(update_fields=["carrier", "tracking_number", "tracking_url", "updated_at"])
        order_history_add(
            order=locked,
            kind=OrderEvent.Kind.NOTE,
            source=source,
            actor=actor,
            message=f"Tracking details corrected. {_shipped_words(locked)}",
            data={"tracking_corrected": {"before": list(before), "after": list(details)}},
        )
        transaction.on_commit(lambda: notifications.push_status(order=locked))
    logger.info("Order %s: tracking details corrected (%s)", locked.public_id, source)
    _copy_fulfilment(order, locked)
    return locked, True


def order_mark_delivered(
    *, order: Order, source: str = OrderEvent.Source.ADMIN, actor: str = ""
) -> tuple[Order, bool]:
    """Record that a shipped order arrived. ``(order, changed)``: False when it already was.
    Raises ``FulfilmentError`` when it has not been shipped. No e-mail: the shopper has the
    parcel."""
    with transaction.atomic():
        locked = order_lock(pk=order.pk)
        if locked.fulfilment_status == F.DELIVERED:
            _copy_fulfilment(order, locked)
            return locked, False
        if locked.fulfilment_status != F.SHIPPED:
            raise FulfilmentError(
                f"Order {locked.number} has not been shipped: mark it shipped first."
            )
        locked.fulfilment_status = F.DELIVERED
        locked.delivered_at = timezone.now()
        locked.save(update_fields=["fulfilment_status", "delivered_at", "updated_at"])
        order_history_add(
            order=locked,
            kind=OrderEvent.Kind.DELIVERED,
            source=source,
            actor=actor,
            message="Delivered.",
            data={"fulfilment": {"from": F.SHIPPED, "to": F.DELIVERED}},
        )
        transaction.on_commit(lambda: notifications.push_status(order=locked))
    logger.info("Order %s: delivered (%s)", locked.public_id, source)
    _copy_fulfilment(order, locked)
    return locked, True


def _shipped_words(order: Order) -> str:
    words = f"Shipped with {order.carrier}"
    if order.tracking_number:
        words += f", tracking number {order.tracking_number}"
    if order.tracking_url:
        words += f" ({order.tracking_url})"
    return words + "."


def _copy_fulfilment(target: Order, source: Order) -> None:
    if target is source:
        return
    order_copy_status(target=target, source=source)
    for field in (
        "fulfilment_status",
        "carrier",
        "tracking_number",
        "tracking_url",
        "shipped_at",
        "delivered_at",
    ):
        setattr(target, field, getattr(source, field))
