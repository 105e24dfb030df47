"""The one locked service that applies banq's word about a payment to our order.

Every writer goes through ``payment_apply``: the webhook processor, ``payment_recheck`` (the
reconcile command and the admin action). Inside one transaction it finds our payment attempt (by
banq's payment id, else by link URL, else the order by ``externalOrderCode``), locks the order
row, verifies banq's answer against the order and then records it:

- completed and verified: ``orders.services.order_mark_paid`` (idempotent: ``changed`` is False
  when the order was already paid, so redeliveries cause no second e-mail or push);
- completed but not checking out (order code, amount, destination): the order is left as it is,
  the attempt becomes ``rejected`` with the reason, the order is flagged for the merchant;
- failed: the attempt becomes ``failed`` with banq's reason; the order becomes ``failed`` only if
  it is awaiting payment through this attempt (a paid order never moves backwards, and the failure
  of a superseded link doesn't fail the order);
- anything else (``created``...): nothing changes but the attempt's copy of banq's status.

Callers that wrap it in their own ``transaction.atomic()`` get all of it rolled back with their own
work; the order's side effects (push, signal, e-mail) run only after the outermost commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from banq.fail_reasons import fail_reason_text
from banq.models import BanqPayment
from banq.payloads import jsonable
from orders.models import Order
from orders.services import order_mark_paid, order_mark_payment_failed

if TYPE_CHECKING:
    from banq.payloads import RemotePayment

logger = logging.getLogger(__name__)

RESULT_PAID = "paid"
RESULT_ALREADY_PAID = "already_paid"
RESULT_FAILED = "failed"
RESULT_NOT_COMPLETED = "not_completed"
RESULT_REJECTED = "rejected"
RESULT_UNMATCHED = "unmatched"
RESULTS = (
    RESULT_PAID,
    RESULT_ALREADY_PAID,
    RESULT_FAILED,
    RESULT_NOT_COMPLETED,
    RESULT_REJECTED,
    RESULT_UNMATCHED,
)


@dataclass(frozen=True)
class PaymentOutcome:
    """What ``payment_apply`` did.

    ``result`` is one of ``RESULTS``; ``changed`` is True only when the order's payment state
    really changed (it became paid, or failed); ``reason`` explains anything but a clean payment.
    """

    result: str
    changed: bool = False
    order: Order | None = None
    attempt: BanqPayment | None = None
    reason: str = ""


def payment_apply(*, remote: RemotePayment) -> PaymentOutcome:
    """Apply banq's re-fetched payment ``remote`` to our order, exactly once. See the module doc.

    Safe to call any number of times, concurrently too: the order row is locked and
    ``order_mark_paid`` is a no-op for a paid order. Raises nothing for banq's data; database
    errors propagate (and roll everything back).
    """
    with transaction.atomic():
        attempt = _find_attempt(remote)
        order_id = attempt.order_id if attempt else _order_id_by_code(remote.external_order_code)
        if order_id is None:
            reason = (
                f"No order matches banq payment {remote.id} "
                f"(order code {remote.external_order_code or 'missing'})."
            )
            logger.warning("banq payment %s: no matching order", remote.id)
            return PaymentOutcome(RESULT_UNMATCHED, reason=reason)
        order = Order.objects.select_for_update().get(pk=order_id)
        if attempt is None:
            attempt = _find_attempt(remote)  # a concurrent call may have created it meanwhile
        if attempt is None:
            attempt = _attempt_create(order=order, remote=remote)
        else:
            attempt = BanqPayment.objects.select_for_update().get(pk=attempt.pk)
        attempt.order = order
        _record_remote(attempt, remote)

        if remote.is_completed:
            return _apply_completed(order=order, attempt=attempt, remote=remote)
        if remote.is_failed:
            return _apply_failed(order=order, attempt=attempt, remote=remote)
        attempt.save()
        return PaymentOutcome(
            RESULT_NOT_COMPLETED,
            order=order,
            attempt=attempt,
            reason=f"banq reports the payment as {remote.status or 'unknown'}.",
        )


def payment_recheck(*, attempt: BanqPayment) -> PaymentOutcome:
    """Fetch banq's current view of ``attempt`` and apply it (reconcile command, admin action).

    Raises the ``BanqError`` family when banq can't be asked (``BanqUnavailable`` is retryable).
    An attempt without banq's payment id can't be asked about: the outcome is ``unmatched``.
    """
    from banq.client import get_banq_client

    if not attempt.banq_payment_id:
        return PaymentOutcome(
            RESULT_UNMATCHED,
            order=attempt.order,
            attempt=attempt,
            reason="This attempt has no banq payment id to look up.",
        )
    remote = get_banq_client().get_payment(attempt.banq_payment_id)
    return payment_apply(remote=remote)


# --- helpers ---------------------------------------------------------------------------------


def _find_attempt(remote: RemotePayment) -> BanqPayment | None:
    if remote.id:
        attempt = BanqPayment.objects.filter(banq_payment_id=remote.id).order_by("-pk").first()
        if attempt is not None:
            return attempt
    if remote.url:
        # banq's link answer may not carry an id; the link URL then identifies the attempt.
        return (
            BanqPayment.objects.filter(url=remote.url, banq_payment_id="").order_by("-pk").first()
        )
    return None


def _order_id_by_code(code: str | None) -> int | None:
    if not code:
        return None
    return Order.objects.filter(number=code).values_list("pk", flat=True).first()


def _attempt_create(*, order: Order, remote: RemotePayment) -> BanqPayment:
    logger.warning(
        "Order %s: banq payment %s is not one of our attempts; recording it",
        order.public_id,
        remote.id,
    )
    return BanqPayment.objects.create(
        order=order,
        banq_payment_id=(remote.id or "")[:64],
        url=(remote.url or "")[:500],
        funds=remote.funds if remote.funds is not None else Decimal("0.00"),
        currency=order.currency,
        frequency=(remote.frequency or "once")[:20],
    )


def _record_remote(attempt: BanqPayment, remote: RemotePayment) -> None:
    if remote.id and not attempt.banq_payment_id:
        attempt.banq_payment_id = remote.id[:64]
    attempt.banq_status = (remote.status or "")[:40]
    attempt.last_payload = jsonable(remote.raw) if remote.raw else None


def _verify(*, order: Order, remote: RemotePayment) -> tuple[str, str]:
    """``(attention, reason)`` for a completed payment that does not check out, else blanks."""
    if (remote.external_order_code or "") != order.number:
        return (
            Order.Attention.PAYMENT_REJECTED,
            f"Order code mismatch: banq's payment is for {remote.external_order_code or 'no order'}"
            f", not {order.number}.",
        )
    if remote.funds is None or remote.funds != order.total:
        return (
            Order.Attention.AMOUNT_MISMATCH,
            f"Amount mismatch: banq reports {remote.funds if remote.funds is not None else 'none'}"
            f", the order total is {order.total} {order.currency}.",
        )
    ours = (settings.BANQ_MERCHANT_GUID or "").strip().lower()
    theirs = (remote.destination_guid or "").strip().lower()
    if not ours or theirs != ours:
        return (
            Order.Attention.PAYMENT_REJECTED,
            "Foreign destination: banq's payment went to another banq account "
            f"({remote.destination_guid or 'none'}), not BANQ_MERCHANT_GUID.",
        )
    return "", ""


def _flag(order: Order, attention: str, note: str) -> None:
    """Flag the order for the merchant without touching its status; an existing flag stays."""
    if order.attention:
        return
    order.attention = attention
    order.attention_note = note
    order.save(update_fields=["attention", "attention_note", "updated_at"])


def _apply_completed(
    *, order: Order, attempt: BanqPayment, remote: RemotePayment
) -> PaymentOutcome:
    attention, reason = _verify(order=order, remote=remote)
    if reason:
        if attempt.status != BanqPayment.Status.COMPLETED:
            attempt.status = BanqPayment.Status.REJECTED
        attempt.verification_error = reason
        attempt.save()
        _flag(order, attention, f"banq payment {remote.id}: {reason}")
        logger.warning("Order %s: banq payment %s rejected: %s", order.public_id, remote.id, reason)
        return PaymentOutcome(RESULT_REJECTED, order=order, attempt=attempt, reason=reason)

    attempt.status = BanqPayment.Status.COMPLETED
    attempt.verification_error = ""
    attempt.fail_reason = ""
    attempt.completed_at = attempt.completed_at or remote.completed_at
    attempt.save()
    order, changed = order_mark_paid(
        order=order, payment_reference=remote.id, paid_at=remote.completed_at
    )
    if changed:
        return PaymentOutcome(RESULT_PAID, changed=True, order=order, attempt=attempt)
    if order.payment_reference and order.payment_reference != remote.id[:64]:
        # Money arrived twice for one order: keep both on record, let the merchant refund one.
        reason = (
            f"Order already paid by banq payment {order.payment_reference}; "
            f"banq payment {remote.id} also completed: refund one of them."
        )
        _flag(order, Order.Attention.UNMATCHED_PAYMENT, reason)
        logger.warning("Order %s: second payment %s completed", order.public_id, remote.id)
        return PaymentOutcome(RESULT_ALREADY_PAID, order=order, attempt=attempt, reason=reason)
    return PaymentOutcome(
        RESULT_ALREADY_PAID, order=order, attempt=attempt, reason="The order is already paid."
    )


def _apply_failed(*, order: Order, attempt: BanqPayment, remote: RemotePayment) -> PaymentOutcome:
    fail_reason = (remote.fail_reason or "unknown")[:200]
    attempt.fail_reason = fail_reason
    if attempt.status == BanqPayment.Status.COMPLETED:
        # banq said completed before: keep that, note the contradiction.
        attempt.save()
        reason = f"banq now reports a completed payment as failed ({fail_reason}); nothing changed."
        logger.warning("Order %s: %s", order.public_id, reason)
        return PaymentOutcome(RESULT_FAILED, order=order, attempt=attempt, reason=reason)
    superseded = attempt.status == BanqPayment.Status.SUPERSEDED
    if not superseded:
        attempt.status = BanqPayment.Status.FAILED
    attempt.save()
    reason = f"banq payment failed: {fail_reason}."
    newer = (
        BanqPayment.objects.filter(order=order, pk__gt=attempt.pk)
        .exclude(status__in=[BanqPayment.Status.FAILED, BanqPayment.Status.SUPERSEDED])
        .exists()
    )
    if superseded or newer or order.status != Order.Status.AWAITING_PAYMENT:
        logger.info(
            "Order %s: banq payment %s failed (%s); the order stays %s",
            order.public_id,
            remote.id,
            fail_reason,
            order.status,
        )
        return PaymentOutcome(RESULT_FAILED, order=order, attempt=attempt, reason=reason)
    order, changed = order_mark_payment_failed(
        order=order, reason=fail_reason_text(remote.fail_reason)
    )
    if not changed:  # pragma: no cover - awaiting_payment -> failed is allowed
        return PaymentOutcome(RESULT_FAILED, order=order, attempt=attempt, reason=reason)
    logger.info("Order %s: banq payment %s failed (%s)", order.public_id, remote.id, fail_reason)
    return PaymentOutcome(RESULT_FAILED, changed=True, order=order, attempt=attempt, reason=reason)
