"""What leaves the orders app when an order changes: the browser push, signals and e-mails.

- ``push_status``: the status message to the order's Channels group, run after commit (instant;
  a push that is lost is caught by the page's watcher, ``orders.watch``).
- The signals (``orders.signals``) and the e-mails are tasks (``orders.tasks``) enqueued in the
  same transaction as the change (``orders.outbox``): a crash after the commit loses none, and the
  e-mail task is idempotent, so a retry sends nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import os

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.template.loader import render_to_string

from orders.access import order_signed_url
from orders.models import Installment, Order, Refund
from orders.moments import format_moment
from orders.money import format_money
from orders.payments import provider_for
from orders.plans import installment_words, next_words, plan_payload, subscription_plan_words
from orders.rules import order_is_payable

logger = logging.getLogger(__name__)

EMAIL_PAID = "paid"
EMAIL_REFUND_DUE = "refund_due"
EMAIL_SHIPPED = "shipped"
# Per installment: the kind is "<name>:<installment pk>", so each is sent once (orders.tasks).
EMAIL_INSTALLMENT_PAID = "installment_paid"
EMAIL_INSTALLMENT_FAILED = "installment_failed"
# A charge of a plan after it was cancelled ("<name>:<installment pk>"): it will be refunded.
EMAIL_INSTALLMENT_AFTER_CANCEL = "installment_after_cancel"
EMAIL_PLAN_CANCELLED = "plan_cancelled"
# Per refund: "<name>:<refund pk>".
EMAIL_REFUNDED = "refunded"
EMAILS = {
    EMAIL_PAID: ("orders/email/order_paid.txt", "payment received for order {number}"),
    EMAIL_REFUND_DUE: (
        "orders/email/order_refund_due.txt",
        "order {number} was cancelled: your payment will be refunded",
    ),
    EMAIL_SHIPPED: ("orders/email/order_shipped.txt", "order {number} is on its way"),
    EMAIL_INSTALLMENT_PAID: (
        "orders/email/installment_paid.txt",
        "receipt for {payment} of your plan (order {number})",
    ),
    EMAIL_INSTALLMENT_FAILED: (
        "orders/email/installment_failed.txt",
        "{payment} of your plan did not go through (order {number})",
    ),
    EMAIL_INSTALLMENT_AFTER_CANCEL: (
        "orders/email/installment_after_cancel.txt",
        "{payment} was taken after your plan was cancelled: it will be refunded (order {number})",
    ),
    EMAIL_PLAN_CANCELLED: (
        "orders/email/plan_cancelled.txt",
        "your plan is cancelled (order {number})",
    ),
    EMAIL_REFUNDED: (
        "orders/email/refunded.txt",
        "{amount} refunded (order {number})",
    ),
}


def order_group_name(order: Order) -> str:
    return f"order_{order.public_id.hex}"


def order_status_display(order: Order) -> str:
    if order.refund_due:
        return "Cancelled (refund due)"
    refunded = order.refund_state_display if order.refunded_total else ""
    if refunded:
        return f"{order.get_status_display()} ({refunded.lower()})"
    return order.get_status_display()


def order_page_states(order: Order, *, payable: bool) -> list[str]:
    """What the order page shows, as words its blocks are keyed on (``data-when``):

    ``paid`` (money received, the confirmation), ``refund_due`` (money received for a cancelled
    order: it will be refunded, never shown as a confirmation), else the status, plus ``payable``
    (the Pay button), ``confirming`` (the shopper's widget reported a payment the provider has not
    confirmed yet), ``checking`` (past its payment time; the provider is being asked whether it was
    paid) and ``unreachable`` (the provider can't be reached right now: nothing is cancelled or
    expired meanwhile).
    """
    if order.refund_due:
        return ["refund_due"]
    if order.paid_at is not None and order.status == Order.Status.CANCELLED:
        return ["refunded"]  # paid after cancellation, and refunded
    if order.paid_at is not None:
        return ["paid"]
    states = [order.status]
    still_open = order.status in (
        Order.Status.PENDING,
        Order.Status.AWAITING_PAYMENT,
        Order.Status.FAILED,
    )
    if payable:
        states.append("payable")
    elif still_open:
        states.append("checking")
    if order.payment_claimed_at is not None and order.status != Order.Status.FAILED:
        states.append("confirming")
    if still_open and order.provider_unreachable_since is not None:
        states.append("unreachable")
    return states


def order_status_payload(order: Order) -> dict:
    """What the order page needs to know, pushed over the socket and served by the status view.

    ``paid`` means money was received; ``refund_due`` that it was received for a cancelled order
    (shown as such, never as a confirmation); ``confirming`` that the shopper's page reported a
    payment that is not confirmed yet; ``payable`` whether the shopper can pay now;
    ``provider_reachable`` (and ``<provider name>_reachable``, the name the docs use) false while
    the payment provider can't be asked about the order (nothing is cancelled or expired
    meanwhile); ``states`` what the page shows (``order_page_states``). A recurring order also has
    ``plan`` (its plan in words and data, what is expected next) and ``installments`` (those paid
    or failed, oldest first): ``orders.plans.plan_payload``. ``fulfilment`` says whether the
    goods shipped (``order_fulfilment_payload``).
    """
    payable = order_is_payable(order=order)
    reachable = order.provider_unreachable_since is None
    payload = {
        "order": str(order.public_id),
        "number": order.number,
        "status": order.status,
        "status_display": order_status_display(order),
        "paid": order.paid_at is not None,
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        # The page's words for it ("6 Dec 2026, 06:32 UTC"): one format, written by the server.
        "paid_at_display": format_moment(order.paid_at) or None,
        "payment_reference": order.payment_reference or None,
        "payment_error": order.payment_error or None,
        "refund_due": order.refund_due,
        "refunded": str(order.refunded_total),
        "refund_state": order.refund_state if order.refunded_total else "",
        "confirming": order.payment_claimed_at is not None and order.paid_at is None,
        "payable": payable,
        "provider_reachable": reachable,
        f"{provider_for(order).name}_reachable": reachable,
        "states": order_page_states(order, payable=payable),
        "total": str(order.total),
        "currency": order.currency,
        # Orders pushes that may cross on the way: a page never goes back to an older state.
        "updated": order.updated_at.isoformat() if order.updated_at else "",
    }
    payload["fulfilment"] = order_fulfilment_payload(order)
    if order.recurring:
        payload["plan"], payload["installments"] = plan_payload(order)
    return payload


def order_fulfilment_payload(order: Order) -> dict:
    """Where the goods are, apart from the payment: ``status`` is ``not_required`` (nothing
    ships), ``unfulfilled``, ``shipped`` or ``delivered``; a shipped order has its carrier,
    tracking number and (http or https) tracking URL. Read from the order's row alone."""
    return {
        "status": order.fulfilment_status,
        "status_display": order.get_fulfilment_status_display(),
        "carrier": order.carrier or None,
        "tracking_number": order.tracking_number or None,
        "tracking_url": order.tracking_url or None,
        "shipped_at": order.shipped_at.isoformat() if order.shipped_at else None,
        "shipped_at_display": format_moment(order.shipped_at) or None,
        "delivered_at": order.delivered_at.isoformat() if order.delivered_at else None,
    }


def _main_loop() -> asyncio.AbstractEventLoop | None:
    """The server's event loop, when this is one of its request threads (asgiref records it for
    the threads it runs sync code in)."""
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(local, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


def push_status(*, order: Order) -> None:
    """Send the order's status to its open pages. In the server, handed to the event loop without
    waiting (the request answers at once); elsewhere (the worker, a command) sent right away."""
    layer = get_channel_layer()
    if layer is None:
        return
    group = order_group_name(order)
    message = {"type": "order.status", **order_status_payload(order)}
    loop = _main_loop()
    try:
        if loop is not None:
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
            future.add_done_callback(lambda done: _push_failed(order, done))
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.exception("Order %s: could not push the status to open pages", order.public_id)


def _push_failed(order: Order, done) -> None:
    if not done.cancelled() and done.exception() is not None:
        logger.error(
            "Order %s: could not push the status to open pages: %r",
            order.public_id,
            done.exception(),
        )


def email_render(*, order: Order, kind: str) -> tuple[str, str]:
    """``(subject, body)`` of the e-mail ``kind`` for ``order`` (``"<name>:<installment pk>"``
    for an installment's e-mail)."""
    name, _, ref = kind.partition(":")
    template, subject = EMAILS[name]
    context: dict = {
        "order": order,
        "items": list(order.items.all()),
        "store_name": settings.STORE_NAME,
        "provider_label": provider_for(order).label,
        "order_url": order_signed_url(order=order, absolute=True),
    }
    words = {"number": order.number}
    if ref and name == EMAIL_REFUNDED:
        refund = Refund.objects.select_related("installment").get(pk=int(ref), order=order)
        context |= {"refund": refund, "amount": format_money(refund.amount, refund.currency)}
        words["amount"] = context["amount"]
    elif ref:
        installment = Installment.objects.select_related("subscription").get(
            pk=int(ref), subscription__order=order
        )
        subscription = installment.subscription
        context |= {
            "installment": installment,
            "subscription": subscription,
            "installment_text": installment_words(installment, subscription),
            "plan_text": subscription_plan_words(subscription),
            "next_text": next_words(subscription),
        }
        words["payment"] = f"payment {installment.number + 1}"
    subject = f"{settings.STORE_NAME}: {subject.format(**words)}"
    return subject, render_to_string(template, context)
