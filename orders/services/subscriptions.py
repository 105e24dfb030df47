"""Writes of recurring plans: an order's subscription and its installments.

A recurring order gets its ``Subscription`` at checkout (``subscription_create``). The order's own
payment is installment 0: when it is paid (``order_mark_paid``, as for any order), the payment
provider's code records it here too, and the subscription becomes active. Later installments
never change the order's status: each is one ``Installment`` row (``installment_record``) with a
history line on the order, its flag (a failure, a charge outside the plan) and its e-mail (a
receipt, or the failure in words) as a task in the same transaction (the outbox), and the
order's ``updated_at`` moved so its open pages hear of it (push after commit, and the watcher).

What an installment means is decided by the payment provider's one evaluator; these functions
only write what they are told, with the order's row locked by the caller
(``orders.locks.order_lock``, the lock order of ``orders.locks``), so each provider transaction
is recorded once (and the unique constraints of ``Installment`` say so too).

The expectation (``next_number``, ``next_due_date``) only moves forward: past each installment
heard of (paid, failed or rejected), past one that never came (``subscription_installment_missed``),
and to nothing once the plan has ended.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal

from django.db import models, transaction
from django.utils import timezone

from orders import notifications
from orders.exceptions import ProductUnavailable
from orders.locks import order_lock
from orders.models import Installment, Order, OrderEvent, OrderFlag, Product, Subscription
from orders.money import format_money
from orders.outbox import outbox_enqueue
from orders.payments import provider_for
from orders.plans import day_words
from orders.recurring import Plan
from orders.services.history import order_flag_raise, order_history_add
from orders.tasks import order_email_send
from storefront import metrics

logger = logging.getLogger(__name__)

Kind = OrderEvent.Kind
State = Subscription.State

EMAIL_INSTALLMENT_PAID = notifications.EMAIL_INSTALLMENT_PAID
EMAIL_INSTALLMENT_FAILED = notifications.EMAIL_INSTALLMENT_FAILED


def subscription_create(
    *, order: Order, product: Product, amount: Decimal, start: date | None = None
) -> Subscription:
    """The subscription of a recurring order, in the checkout's transaction: ``product``'s plan
    from ``start`` (today, in the store's time zone), ``amount`` per installment. Raises
    ``ProductUnavailable`` when the plan can't start (its last date has passed)."""
    start = start or timezone.localdate()
    try:
        plan = product.plan(start=start)
    except ValueError as exc:
        raise ProductUnavailable(
            f"{product.name} can no longer be bought: its plan has ended."
        ) from exc
    if plan is None:
        raise ValueError(f"{product.name} is not a recurring product")
    return Subscription.objects.create(
        order=order,
        product_name=product.name,
        frequency=plan.frequency,
        start_date=plan.start,
        periods=plan.periods,
        end_date=plan.end,
        amount=amount,
        currency=order.currency,
        state=State.PENDING,
        next_number=0,
        next_due_date=plan.start,
    )


def subscription_get(*, order: Order) -> Subscription | None:
    """``order``'s subscription, or None (no query for a one-time order). Writers hold the
    order's row lock, which guards its subscription too."""
    if not order.recurring:
        return None
    return Subscription.objects.filter(order_id=order.pk).first()


def subscription_start_today(*, order: Order, today: date | None = None) -> Subscription | None:
    """Before the first payment, a plan starts on the day its link is made: an order placed just
    before midnight and paid after it starts "today", never in the past. With ``order`` locked by
    the caller. Returns the subscription (None for a one-time order)."""
    subscription = subscription_get(order=order)
    if subscription is None or subscription.state != State.PENDING or order.paid_at is not None:
        return subscription
    today = today or timezone.localdate()
    if subscription.start_date >= today:
        return subscription
    plan = subscription.plan
    try:
        moved = Plan(frequency=plan.frequency, start=today, periods=plan.periods, end=plan.end)
    except ValueError:
        return subscription  # its last date has passed since checkout: the provider gets it as sold
    subscription.start_date = moved.start
    subscription.next_due_date = moved.start
    subscription.save(update_fields=["start_date", "next_due_date", "updated_at"])
    return subscription


def _expect_after(subscription: Subscription, number: int) -> None:
    """Move the expectation past installment ``number`` (never back; an ended plan stays
    ended, a cancelled one cancelled). Saves the subscription."""
    if subscription.state in (State.ENDED, State.CANCELLED):
        return
    current = subscription.next_number if subscription.next_number is not None else 0
    following = max(current, number + 1)
    due = subscription.plan.due(following)
    if due is None:
        subscription.state = State.ENDED
        subscription.next_number = None
        subscription.next_due_date = None
    else:
        subscription.state = State.ACTIVE
        subscription.next_number = following
        subscription.next_due_date = due
    subscription.provider_checked_at = None
    subscription.save(
        update_fields=[
            "state",
            "next_number",
            "next_due_date",
            "provider_checked_at",
            "updated_at",
        ]
    )


def _touch(order: Order) -> None:
    """The order's pages hear of it: ``updated_at`` moves (the watcher, and the payload's order
    of pushes), and the push goes after commit."""
    order.save(update_fields=["updated_at"])
    transaction.on_commit(lambda: notifications.push_status(order=order))


def _label(subscription: Subscription, number: int) -> str:
    count = subscription.plan.count
    return f"Installment {number + 1}" + (f" of {count}" if count is not None else "")


def installment_record(
    *,
    order: Order,
    subscription: Subscription,
    number: int,
    status: str,
    transaction_id: str,
    payment_reference: str,
    amount: Decimal | None,
    due_date: date | None,
    occurred_at: datetime | None,
    source: str,
    fail_reason: str = "",
    fail_text: str = "",
    note: str = "",
    flag: str = "",
    flag_note: str = "",
    email: str = "",
    expect: bool = True,
) -> Installment:
    """Record one installment the provider reported, as the evaluator decided: the row, the
    order's history line, ``flag`` (an ``OrderFlag.Kind``, once per transaction), ``email``
    (``EMAIL_INSTALLMENT_PAID`` or ``..._FAILED``: enqueued once, idempotent per installment),
    the expectation moved past it (unless ``expect`` is False: a charge that is not the plan's),
    and the push. With ``order`` locked by the caller."""
    installment = Installment.objects.create(
        subscription=subscription,
        number=number,
        transaction_id=transaction_id[:128],
        payment_reference=payment_reference[:64],
        status=status,
        amount=amount,
        currency=subscription.currency,
        due_date=due_date,
        occurred_at=occurred_at,
        fail_reason=fail_reason[:200],
        fail_text=fail_text[:300],
        note=note,
        source=source,
    )
    kind, message = _installment_history(installment)
    amount_text = str(amount) if amount is not None else None
    data = {"installment": number, "transaction": transaction_id, "status": status}
    order_history_add(
        order=order, kind=kind, source=source, message=message, data={**data, "amount": amount_text}
    )
    _installment_tell(
        order=order, installment=installment, flag=flag, note=flag_note or message, email=email
    )
    if expect:
        _expect_after(subscription, number)
    _touch(order)
    label = _label(subscription, number)
    logger.info("Order %s: %s %s (%s)", order.public_id, label, status, transaction_id or "-")
    return installment


def _installment_tell(
    *, order: Order, installment: Installment, flag: str, note: str, email: str
) -> None:
    """Raise ``flag`` for the merchant (once per transaction) and enqueue ``email`` to the
    shopper (once per installment), if any."""
    if flag:
        order_flag_raise(
            order=order,
            kind=flag,
            note=note,
            reference=installment.transaction_id or f"installment-{installment.number}",
            source=installment.source,
        )
    if email:
        outbox_enqueue(order_email_send, order.pk, f"{email}:{installment.pk}")


def _installment_history(installment: Installment) -> tuple[str, str]:
    """The history line of a recorded installment: its kind and its message."""
    subscription = installment.subscription
    label = _label(subscription, installment.number)
    due_date = installment.due_date
    due = f" (due {day_words(due_date)})" if due_date else ""
    amount = installment.amount
    money = format_money(amount, subscription.currency) if amount is not None else "no amount"
    tx = installment.transaction_id
    reference = f"transaction {tx}" if tx else "the order's payment"
    if installment.status == Installment.Status.PAID:
        return Kind.INSTALLMENT, f"{label}{due}: {money} paid ({reference})."
    if installment.status == Installment.Status.FAILED:
        why = installment.fail_text or "declined"
        reason = installment.fail_reason or "no reason"
        return Kind.INSTALLMENT_FAILED, f"{label}{due} failed: {why} ({reason}, {reference})."
    status = installment.get_status_display().lower()
    return Kind.INSTALLMENT, f"{label}{due}: {status} ({reference}). {installment.note}".strip()


def installment_paid_after_failure(
    *, order: Order, installment: Installment, occurred_at: datetime | None, source: str
) -> Installment:
    """The provider now reports a transaction it had reported failed as paid (a retried charge):
    the installment is paid, with its receipt. With ``order`` locked by the caller."""
    installment.status = Installment.Status.PAID
    installment.occurred_at = occurred_at or installment.occurred_at or timezone.now()
    installment.save(update_fields=["status", "occurred_at", "updated_at"])
    subscription = installment.subscription
    order_history_add(
        order=order,
        kind=Kind.INSTALLMENT,
        source=source,
        message=f"{_label(subscription, installment.number)}: paid after all "
        f"(transaction {installment.transaction_id}, reported failed before).",
        data={"installment": installment.number, "transaction": installment.transaction_id},
    )
    outbox_enqueue(order_email_send, order.pk, f"{EMAIL_INSTALLMENT_PAID}:{installment.pk}")
    _touch(order)
    return installment


def installment_name_transaction(*, installment: Installment, transaction_id: str) -> None:
    """The first payment was recorded before the provider named its transaction: name it now
    (so a later report of that transaction is known). With the order locked by the caller."""
    installment.transaction_id = transaction_id[:128]
    installment.save(update_fields=["transaction_id", "updated_at"])


def subscription_installment_missed(
    *, subscription: Subscription, number: int, source: str, note: str = ""
) -> bool:
    """Installment ``number`` is overdue and the provider has nothing for it: flag the order
    (once per installment and due date) and expect the next one. False, with nothing written,
    when the expectation moved meanwhile (it arrived)."""
    with transaction.atomic():
        order = order_lock(pk=subscription.order_id)
        fresh = Subscription.objects.get(pk=subscription.pk)
        if fresh.state != State.ACTIVE or fresh.next_number != number:
            return False
        due = fresh.next_due_date
        label = _label(fresh, number)
        provider = provider_for(order).label
        order_flag_raise(
            order=order,
            kind=OrderFlag.Kind.INSTALLMENT_MISSED,
            note=note
            or f"{label}, due {day_words(due)}, did not arrive and {provider} has no charge for "
            f"it: ask the shopper or {provider}.",
            reference=f"installment-{number}-{due.isoformat() if due else ''}",
            source=source,
        )
        _expect_after(fresh, number)
        _touch(order)
    logger.warning("Order %s: %s missed", order.public_id, label)
    metrics.INSTALLMENTS.labels(result="missed").inc()
    subscription.refresh_from_db()
    return True


def subscriptions_claim_overdue(
    *, due_on_or_before: date, asked_before: datetime, limit: int, now: datetime | None = None
) -> list[Subscription]:
    """Active subscriptions whose expected installment was due on or before
    ``due_on_or_before`` and whose provider was not asked about it since ``asked_before``, the
    oldest due first, at most ``limit``. They are marked asked (``provider_checked_at``) before
    this returns, so several workers never ask about the same one at once."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Subscription.objects.select_for_update(skip_locked=True)
            .filter(state=State.ACTIVE, next_due_date__lte=due_on_or_before)
            .filter(
                models.Q(provider_checked_at__isnull=True)
                | models.Q(provider_checked_at__lte=asked_before)
            )
            .select_related("order")
            .order_by("next_due_date", "pk")[:limit]
        )
        Subscription.objects.filter(pk__in=[s.pk for s in due]).update(provider_checked_at=now)
    for subscription in due:
        subscription.provider_checked_at = now
    return due
