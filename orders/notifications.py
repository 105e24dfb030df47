"""Side effects of status changes, run after commit: browser push, signals, e-mail.

Each effect is isolated: a failing e-mail server must not stop the browser push, and none of them
may undo the committed change.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from orders.models import Order
from orders.signals import order_paid, order_status_changed

logger = logging.getLogger(__name__)


def order_group_name(order: Order) -> str:
    return f"order_{order.public_id.hex}"


def order_status_payload(order: Order) -> dict:
    """What the order page needs to know, pushed over the socket and served by the status view."""
    return {
        "order": str(order.public_id),
        "number": order.number,
        "status": order.status,
        "status_display": order.get_status_display(),
        "paid": order.paid_at is not None,
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "payment_reference": order.payment_reference or None,
        "payment_error": order.payment_error or None,
        "total": str(order.total),
        "currency": order.currency,
    }


def push_status(*, order: Order) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            order_group_name(order), {"type": "order.status", **order_status_payload(order)}
        )
    except Exception:
        logger.exception("Order %s: could not push the status to open pages", order.public_id)


def status_changed(*, order: Order, previous: str) -> None:
    push_status(order=order)
    order_status_changed.send(sender=Order, order=order, previous=previous, status=order.status)


def paid(*, order: Order, previous: str) -> None:
    push_status(order=order)
    if order.status != previous:
        order_status_changed.send(sender=Order, order=order, previous=previous, status=order.status)
    order_paid.send(sender=Order, order=order)
    send_confirmation_email(order=order)


def send_confirmation_email(*, order: Order) -> None:
    from orders.access import order_signed_url

    context = {
        "order": order,
        "items": list(order.items.all()),
        "store_name": settings.STORE_NAME,
        "order_url": order_signed_url(order=order, absolute=True),
    }
    subject = f"{settings.STORE_NAME}: payment received for order {order.number}"
    try:
        send_mail(
            subject,
            render_to_string("orders/email/order_paid.txt", context),
            settings.DEFAULT_FROM_EMAIL,
            [order.email],
        )
    except Exception:
        logger.exception("Order %s: the confirmation e-mail could not be sent", order.public_id)
