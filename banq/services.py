"""Writes of the banq app: creating (or reusing) the payment link for an order.

Concurrency: two clicks on "pay" for the same order must not create two banq payments, but the
HTTP call to banq (up to connect + read timeout) must not run inside a database transaction that
holds the order's row lock: that would block the webhook that marks the order paid, and on SQLite
every other writer. So the work is split in three steps:

1. a short transaction locks the order (``select_for_update``), checks it is payable, supersedes
   stale attempts, returns a reusable open link if there is one, and otherwise saves a
   *placeholder* attempt (status ``created``, no URL yet) and commits;
2. banq is called with no transaction open;
3. a second short transaction fills the placeholder with banq's answer and moves the order to
   ``awaiting_payment``.

A concurrent click that finds a fresh placeholder (step 1) waits outside any transaction for the
first click to finish and then reuses its link. The placeholder lives in the database, so this
works across processes even when the cache is per-process. A placeholder older than the banq
timeouts belongs to a crashed worker and is ignored.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from banq.client import get_banq_client
from banq.exceptions import BanqConfigError, BanqError, BanqPayloadError, OrderNotPayable
from banq.models import BanqPayment
from banq.payloads import jsonable
from orders.exceptions import InvalidOrderTransition
from orders.models import Order
from orders.services import order_set_status

logger = logging.getLogger(__name__)

PAYABLE_STATUSES = {Order.Status.PENDING, Order.Status.AWAITING_PAYMENT, Order.Status.FAILED}
PLACEHOLDER_POLL = 0.2  # seconds between looks at another click's placeholder
COMMENT_MAX = 120
URL_MAX_LENGTH = 500  # BanqPayment.url

NOT_PAYABLE_MESSAGES = {
    "paid": "This order is already paid.",
    "cancelled": "This order was cancelled and can no longer be paid.",
    "expired": "This order has expired. Please place a new order.",
    "empty": "This order has nothing to pay.",
}


def _not_payable(reason: str) -> OrderNotPayable:
    return OrderNotPayable(NOT_PAYABLE_MESSAGES[reason], reason=reason)


def _expiry() -> timedelta:
    return timedelta(minutes=int(getattr(settings, "ORDER_EXPIRY_MINUTES", 60)))


def _placeholder_window() -> timedelta:
    seconds = float(getattr(settings, "BANQ_CONNECT_TIMEOUT", 5.0)) + float(
        getattr(settings, "BANQ_READ_TIMEOUT", 20.0)
    )
    return timedelta(seconds=seconds + 5)


def order_check_payable(*, order: Order) -> None:
    """Raise ``OrderNotPayable`` (with a message for the shopper) unless ``order`` can be paid."""
    if order.paid_at is not None or order.status == Order.Status.PAID:
        raise _not_payable("paid")
    if order.status == Order.Status.CANCELLED:
        raise _not_payable("cancelled")
    if order.status == Order.Status.EXPIRED:
        raise _not_payable("expired")
    if order.status not in PAYABLE_STATUSES:
        raise OrderNotPayable(reason=str(order.status))
    if order.status in (Order.Status.PENDING, Order.Status.AWAITING_PAYMENT) and (
        order.created_at <= timezone.now() - _expiry()
    ):
        raise _not_payable("expired")
    if order.total is None or order.total <= Decimal("0"):
        raise _not_payable("empty")


def payment_link_comment(*, order: Order) -> str:
    """What the shopper sees in the banq app: short, no personal data."""
    store = getattr(settings, "STORE_NAME", "") or "our store"
    return f"Order {order.number} at {store}"[:COMMENT_MAX]


def _move_to_awaiting(order: Order) -> None:
    if order.status != Order.Status.AWAITING_PAYMENT:
        order_set_status(order=order, status=Order.Status.AWAITING_PAYMENT)


def _reserve(*, order: Order, frequency: str) -> tuple[BanqPayment, bool]:
    """Step 1. Returns ``(attempt, ready)``: a reusable attempt (ready) or our new placeholder.

    Raises ``_Busy`` when another click's placeholder is in flight.
    """
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        order_check_payable(order=locked)
        now = timezone.now()
        open_attempts = list(
            BanqPayment.objects.filter(order=locked, status=BanqPayment.Status.CREATED)
        )
        reusable = None
        busy = False
        for attempt in open_attempts:
            same_terms = attempt.funds == locked.total and attempt.frequency == frequency
            if not same_terms:
                attempt.status = BanqPayment.Status.SUPERSEDED
                attempt.save(update_fields=["status", "updated_at"])
                logger.info(
                    "Order %s: payment attempt %s superseded (total changed)",
                    locked.public_id,
                    attempt.pk,
                )
            elif attempt.url:
                if attempt.created_at > now - _expiry() and reusable is None:
                    reusable = attempt
            elif attempt.created_at > now - _placeholder_window():
                busy = True
            else:  # a placeholder left by a worker that died mid-call
                attempt.delete()
        if reusable is not None:
            _move_to_awaiting(locked)
            logger.info(
                "Order %s: reusing payment link, banq id %s",
                locked.public_id,
                reusable.banq_payment_id,
            )
            return reusable, True
        if busy:
            raise _Busy
        placeholder = BanqPayment.objects.create(
            order=locked,
            funds=locked.total,
            currency=locked.currency,
            frequency=frequency,
            status=BanqPayment.Status.CREATED,
        )
        return placeholder, False


class _Busy(Exception):
    """Another request is creating this order's link right now."""


def _drop_placeholder(placeholder: BanqPayment) -> None:
    BanqPayment.objects.filter(pk=placeholder.pk, url="").delete()


def payment_link_generate(*, order: Order, frequency: str = "once") -> BanqPayment:
    """The open banq payment attempt for ``order``: reused when one is still valid for the same
    total, else created at banq. The order moves to ``awaiting_payment``.

    Amount, comment and order code come from the order only. Raises ``OrderNotPayable`` (message
    for the shopper) and the ``BanqError`` family (banq refused or unreachable; nothing saved).
    Safe to call concurrently for the same order: one banq payment is created.
    """
    deadline = time.monotonic() + _placeholder_window().total_seconds()
    while True:
        try:
            attempt, ready = _reserve(order=order, frequency=frequency)
        except _Busy:
            if time.monotonic() > deadline:
                raise BanqError("Another request is still creating this order's link.") from None
            time.sleep(PLACEHOLDER_POLL)
            continue
        if ready:
            order.refresh_from_db()
            return attempt
        break

    placeholder = attempt
    try:
        try:
            client = get_banq_client()
        except ImproperlyConfigured as exc:
            raise BanqConfigError(str(exc)) from exc
        link = client.create_payment_link(
            order_code=order.number,
            funds=placeholder.funds,
            comment=payment_link_comment(order=order),
            frequency=frequency,
        )
        if len(link.url) > URL_MAX_LENGTH:
            raise BanqPayloadError("banq's payment link is longer than we can store.")
        if link.payment_id and len(link.payment_id) > 64:
            raise BanqPayloadError("banq's payment id is longer than we can store.")
    except BaseException:
        _drop_placeholder(placeholder)
        raise

    placeholder.banq_payment_id = link.payment_id or ""
    placeholder.url = link.url
    placeholder.last_payload = jsonable(link.raw) if link.raw not in (None, "") else None
    placeholder.banq_status = "created"
    try:
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            _move_to_awaiting(locked)
            placeholder.save()
    except InvalidOrderTransition:
        # The order was paid, cancelled or expired while banq answered: keep the record of the
        # link banq made, but never hand it out.
        placeholder.status = BanqPayment.Status.SUPERSEDED
        placeholder.save()
        order.refresh_from_db()
        order_check_payable(order=order)
        raise
    logger.info(
        "Order %s: payment link created, banq id %s", order.public_id, link.payment_id or "-"
    )
    order.refresh_from_db()
    return placeholder
