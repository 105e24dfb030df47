"""Refunds the merchant records: the order's payment, or one of its plan's later installments.

The payment provider may have no refund call (some document none): the merchant refunds in the
provider's dashboard, then records it here. ``order_refund_record`` goes through the provider
(``orders.payments.provider_for(order).record_refund``), so a provider with a refund call can
make the refund itself without anything here changing.

Under the order's row lock (``orders.locks``), a refund is checked against what is left of the
payment it gives back (what was received minus what was refunded already), so two merchants
recording at once can never give back more than was paid. Each refund is one ``Refund`` row, one
line of the order's history and one e-mail to the shopper (the outbox); a "refund due" flag
about that payment (paid after cancellation, an installment after a cancelled plan, a charge
twice) is handled once the refunds cover the payment.

Not re-exported by ``orders.services``: import from here.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Sum

from orders import notifications
from orders.exceptions import RefundError
from orders.locks import order_lock
from orders.models import Installment, Order, OrderEvent, OrderFlag, Refund
from orders.money import format_money
from orders.outbox import outbox_enqueue
from orders.payments import provider_for
from orders.services.history import order_flag_resolve, order_history_add
from orders.tasks import order_email_send

logger = logging.getLogger(__name__)

ORDER_PAYMENT = "order"
REASON_MAX = 500
ZERO = Decimal("0.00")
# The flags a refund of the order's own payment settles, and those of an installment.
ORDER_FLAGS = (OrderFlag.Kind.REFUND_DUE,)
INSTALLMENT_FLAGS = (OrderFlag.Kind.INSTALLMENT_UNEXPECTED, OrderFlag.Kind.DUPLICATE_PAYMENT)


@dataclass(frozen=True)
class Refundable:
    """A payment of an order that can be refunded: ``key`` names it in a form (``order`` or
    ``installment-<pk>``)."""

    key: str
    label: str
    received: Decimal
    refunded: Decimal
    currency: str
    installment: Installment | None = None

    @property
    def left(self) -> Decimal:
        return max(self.received - self.refunded, ZERO)


def order_refundables(*, order: Order) -> list[Refundable]:
    """The payments of ``order`` that brought money, with what is left to refund of each: the
    order's own payment (once paid), then its plan's later installments. Two queries."""
    refunded: dict[int | None, Decimal] = {
        row["installment"]: row["total"] or ZERO
        for row in Refund.objects.filter(order=order)
        .values("installment")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    found: list[Refundable] = []
    if order.paid_at is not None:
        what = "first payment" if order.recurring else "payment"
        found.append(
            Refundable(
                key=ORDER_PAYMENT,
                label=f"The order's {what} ({format_money(order.total, order.currency)}"
                + (f", {order.payment_reference}" if order.payment_reference else "")
                + ")",
                received=order.total,
                refunded=refunded.get(None, ZERO),
                currency=order.currency,
            )
        )
    if order.recurring:
        rows = Installment.objects.filter(
            Installment.refundable_q(), subscription__order_id=order.pk, amount__isnull=False
        ).order_by("number", "pk")
        for row in rows:
            amount = row.amount or ZERO
            found.append(
                Refundable(
                    key=f"installment-{row.pk}",
                    label=f"Installment {row.number + 1} ({format_money(amount, row.currency)}"
                    + (f", transaction {row.transaction_id}" if row.transaction_id else "")
                    + (", charged twice" if row.status == Installment.Status.DUPLICATE else "")
                    + ")",
                    received=amount,
                    refunded=refunded.get(row.pk, ZERO),
                    currency=row.currency,
                    installment=row,
                )
            )
    return found


def refund_amount_parse(value: object) -> Decimal:
    """A refund amount from a form: a positive number of cents. Raises ``RefundError``."""
    if isinstance(value, float | bool) or value is None:
        raise RefundError("Enter the amount refunded, e.g. 9.90.")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise RefundError("Enter the amount refunded, e.g. 9.90.") from exc
    if not amount.is_finite() or amount <= 0:
        raise RefundError("The amount refunded must be more than zero.")
    if amount != amount.quantize(Decimal("0.01")):
        raise RefundError("The amount refunded has at most two decimal places.")
    if amount >= Decimal("1e10"):
        raise RefundError("That amount is too large.")
    return amount.quantize(Decimal("0.01"))


def refund_reason_clean(value: object) -> str:
    """The reason, one line of printable text. Raises ``RefundError``."""
    text = " ".join(str(value or "").split())
    if not text:
        raise RefundError("Say why the money was refunded (the shopper reads it).")
    if len(text) > REASON_MAX:
        raise RefundError(f"The reason is at most {REASON_MAX} characters.")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") for c in text):
        raise RefundError("The reason holds characters that can't be stored.")
    return text


def order_refund_record(
    *,
    order: Order,
    amount: Decimal | str,
    reason: str,
    actor: str,
    payment: str = ORDER_PAYMENT,
    source: str = OrderEvent.Source.ADMIN,
) -> Refund:
    """Record a refund of ``amount`` of ``order``'s ``payment`` (``order``, or
    ``installment-<pk>`` from ``order_refundables``). Raises ``RefundError`` (nothing stored) for
    a bad amount or reason, a payment that brought nothing, or more than is left to refund of it.

    With the order's row locked: the check, the provider's ``record_refund``, the row, the
    order's ``refunded_total``, the history line, the flags it settles and the shopper's e-mail
    (outbox) commit together. Returns the refund; ``order`` is refreshed in place."""
    amount = refund_amount_parse(amount)
    reason = refund_reason_clean(reason)
    with transaction.atomic():
        locked = order_lock(pk=order.pk)
        target = _target(locked, payment=payment, amount=amount)
        recorded = provider_for(locked).record_refund(order=locked, amount=amount, reason=reason)
        refund = Refund.objects.create(
            order=locked,
            installment=target.installment,
            amount=amount,
            currency=target.currency,
            reason=reason,
            provider_reference=recorded.reference[:128],
            provider_note=recorded.note[:300],
            recorded_by=actor[:150],
        )
        locked.refunded_total += amount
        locked.save(update_fields=["refunded_total", "updated_at"])
        _history(locked, refund, target, recorded.note, actor, source)
        if amount == target.left:
            _settle_flags(locked, target, actor, source)
        outbox_enqueue(
            order_email_send,
            locked.pk,
            f"{notifications.EMAIL_REFUNDED}:{refund.pk}",
        )
        transaction.on_commit(lambda: notifications.push_status(order=locked))
    order.refunded_total = locked.refunded_total
    order.updated_at = locked.updated_at
    logger.info(
        "Order %s: refund of %s %s recorded (%s) by %s",
        locked.public_id,
        amount,
        target.currency,
        target.key,
        actor or source,
    )
    return refund


def _target(order: Order, *, payment: str, amount: Decimal) -> Refundable:
    """The payment ``payment`` of the locked ``order``, checked to have ``amount`` left to
    refund. Raises ``RefundError``."""
    target = next((r for r in order_refundables(order=order) if r.key == payment), None)
    if target is None:
        raise RefundError("There is no such payment of this order to refund.")
    if amount > target.left:
        raise RefundError(
            f"At most {format_money(target.left, target.currency)} of this payment can be "
            f"refunded: {format_money(target.received, target.currency)} was received and "
            f"{format_money(target.refunded, target.currency)} refunded already."
        )
    return target


def _history(
    order: Order, refund: Refund, target: Refundable, note: str, actor: str, source: str
) -> None:
    left = target.left - refund.amount
    whole = "in full" if left == 0 else f"{format_money(left, target.currency)} left"
    what = target.label[0].lower() + target.label[1:]
    order_history_add(
        order=order,
        kind=OrderEvent.Kind.REFUND,
        source=source,
        actor=actor,
        message=f"Refund of {format_money(refund.amount, refund.currency)} recorded for {what}, "
        f"{whole}: {refund.reason}" + (f" ({note})" if note else ""),
        data={
            "refund": refund.pk,
            "amount": str(refund.amount),
            "currency": refund.currency,
            "payment": target.key,
            "reference": refund.provider_reference,
        },
    )


def _settle_flags(order: Order, target: Refundable, actor: str, source: str) -> None:
    """The payment is refunded in full: the flags asking for its refund are handled."""
    flags = OrderFlag.objects.filter(order=order, resolved_at__isnull=True)
    if target.installment is None:
        flags = flags.filter(kind__in=ORDER_FLAGS)
    else:
        row = target.installment
        references = [r for r in (row.transaction_id, f"installment-{row.number}") if r]
        flags = flags.filter(kind__in=INSTALLMENT_FLAGS, reference__in=references)
    for flag in flags:
        order_flag_resolve(
            order=order,
            flag=flag,
            actor=actor,
            source=source,
            message=f"{flag.get_kind_display()}: handled, the payment is refunded in full.",
        )
