"""The order's status machine: the one place where an order's status changes.

``ALLOWED_TRANSITIONS`` (docs/development.md). ``order_mark_paid`` is the one way into ``paid``;
``order_set_status`` makes the other moves, ``order_expire`` and ``order_cancel`` ask the payment
provider first (``orders.payments``). Every change locks the order row, writes its history line
(``orders.services.history``) and enqueues its side effects in the same transaction: the
confirmation e-mail and the signals go to the outbox (``orders.outbox``: tasks run by the worker),
the browser push runs after commit (instant; a lost push is caught by the page's watcher).

The rules it follows (the transition table, "payable" and "expired") are in ``orders.rules``,
which writes nothing and which the order page and its status JSON read too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, models, transaction
from django.utils import timezone

from orders import notifications
from orders.exceptions import InvalidOrderTransition
from orders.locks import order_lock
from orders.models import Order, OrderEvent, OrderFlag
from orders.outbox import outbox_writes
from orders.payments import ProviderVerdict, order_payments_answered, order_payments_check
from orders.rules import (
    CANCELLABLE,
    EXPIRABLE,
    order_can_transition,
    order_is_stale,
    order_stale_q,
)
from orders.services.history import order_flag_raise, order_history_add, order_history_line
from orders.signals import order_status_changed
from orders.tasks import order_changed
from storefront import writes
from storefront.writes import Write

logger = logging.getLogger(__name__)

S = Order.Status
Kind = OrderEvent.Kind
Source = OrderEvent.Source

# --- moves -----------------------------------------------------------------------------------


def order_set_status(
    *,
    order: Order,
    status: str,
    source: str,
    actor: str = "",
    message: str = "",
    locked: bool = False,
    also: Sequence[Write] = (),
) -> Order:
    """Move ``order`` to ``status`` if the table allows it.

    A move to the current status is a no-op. Raises ``InvalidOrderTransition`` otherwise; nothing is
    written then. ``paid`` is refused here: use ``order_mark_paid``. Returns the fresh order.
    ``locked``: the caller's transaction holds ``order``'s row lock and read it under the lock
    (the change is then part of that transaction, with no lock or savepoint of its own).
    ``also``: the caller's own writes of other rows, sent with the order's (one statement on
    PostgreSQL: ``storefront.writes``), the move a no-op or not; not sent when it raises.
    """
    if status == S.PAID:
        raise InvalidOrderTransition(order.status, status)
    if locked:
        return _set_status(
            order, status=status, source=source, actor=actor, message=message, also=also
        )
    with transaction.atomic():
        fresh = _set_status(
            order_lock(pk=order.pk),
            status=status,
            source=source,
            actor=actor,
            message=message,
            also=also,
        )
    order_copy_status(target=order, source=fresh)
    return fresh


def _set_status(
    locked: Order, *, status: str, source: str, actor: str, message: str, also: Sequence[Write]
) -> Order:
    if locked.status == status:
        writes.send(*also)
        return locked
    if not order_can_transition(current=locked.status, target=status):
        raise InvalidOrderTransition(locked.status, status)
    previous = locked.status
    locked.status = status
    locked.status_changed_at = timezone.now()
    fields = ["status", "status_changed_at", "updated_at"]
    if status == S.AWAITING_PAYMENT and locked.payment_error:
        locked.payment_error = ""  # a new attempt starts clean
        fields.append("payment_error")
    line = order_history_line(
        order=locked,
        kind=Kind.STATUS,
        source=source,
        actor=actor,
        from_status=previous,
        to_status=status,
        message=message,
    )
    _save_with_line(locked, fields, line, (*also, *_status_effects(locked, previous)))
    logger.info("Order %s: %s -> %s (%s)", locked.public_id, previous, status, source)
    return locked


def order_mark_paid(
    *,
    order: Order,
    payment_reference: str,
    source: str,
    paid_at: datetime | None = None,
    actor: str = "",
    message: str = "",
    locked: bool = False,
    also: Sequence[Write] = (),
) -> tuple[Order, bool]:
    """Record a payment the provider confirmed (the caller has verified it; nothing here asks).

    Returns ``(order, changed)``; ``changed`` is False when the order was already paid
    (redeliveries are normal), so callers count real changes. Pending, awaiting, failed and
    expired orders become ``paid`` (the history says when it came after expiry). A cancelled order
    keeps its status, records the payment and is flagged for a refund; the shopper is told so.
    ``locked``: the caller's transaction holds ``order``'s row lock and read it under the lock.
    ``also``: the caller's own writes of other rows, sent with the order's (``order_set_status``).
    """
    with transaction.atomic(savepoint=False):
        locked_order = order if locked else order_lock(pk=order.pk)
        return _mark_paid(
            order=order,
            locked=locked_order,
            payment_reference=payment_reference,
            source=source,
            paid_at=paid_at,
            actor=actor,
            message=message,
            also=also,
        )


def _mark_paid(
    *,
    order: Order,
    locked: Order,
    payment_reference: str,
    source: str,
    paid_at: datetime | None,
    actor: str,
    message: str,
    also: Sequence[Write],
) -> tuple[Order, bool]:
    if locked.paid_at is not None:
        writes.send(*also)
        _copy_into(order, locked)
        return locked, False
    now = timezone.now()
    previous = locked.status
    locked.paid_at = paid_at or now
    locked.payment_reference = payment_reference[:64]
    fields = ["paid_at", "payment_reference", "updated_at"]
    note = message
    if previous == S.CANCELLED:
        email = notifications.EMAIL_REFUND_DUE
        note = note or f"Payment {payment_reference} arrived after the order was cancelled."
        _flag_paid_after_cancel(locked, payment_reference, source=source, actor=actor)
    elif order_can_transition(current=previous, target=S.PAID):
        email = notifications.EMAIL_PAID
        locked.status = S.PAID
        locked.status_changed_at = now
        fields += ["status", "status_changed_at"]
        if previous == S.EXPIRED:
            note = note or "Paid after the order had expired: the payment counts."
        logger.info("Order %s: paid (payment %s)", locked.public_id, payment_reference)
    else:  # pragma: no cover - every status is covered by the branches above
        raise InvalidOrderTransition(previous, S.PAID)
    line = order_history_line(
        order=locked,
        kind=Kind.PAID,
        source=source,
        actor=actor,
        from_status=previous,
        to_status=locked.status,
        message=note or f"Payment {payment_reference} recorded.",
        data={"payment": payment_reference},
    )
    _save_with_line(locked, fields, line, (*also, *_status_effects(locked, previous, email=email)))
    _copy_into(order, locked)
    return locked, True


def _flag_paid_after_cancel(
    locked: Order, payment_reference: str, *, source: str, actor: str
) -> None:
    order_flag_raise(
        order=locked,
        kind=OrderFlag.Kind.REFUND_DUE,
        note=f"Payment {payment_reference} completed after the order was cancelled: "
        "refund it to the shopper.",
        reference=payment_reference,
        source=source,
        actor=actor,
    )
    logger.warning(
        "Order %s: paid after it was cancelled (payment %s)", locked.public_id, payment_reference
    )


def order_mark_payment_failed(
    *, order: Order, reason: str, source: str, message: str = ""
) -> tuple[Order, bool]:
    """Record that the shopper's payment failed, ``reason`` in words the shopper can read.

    Only an order awaiting payment becomes ``failed``; for any other status nothing changes but a
    failed order's reason. Returns ``(order, changed)``. The caller has established that the failed
    payment is the order's live one (a superseded or foreign payment never fails an order).
    """
    with transaction.atomic():
        locked = order_lock(pk=order.pk)
        if locked.status == S.FAILED and locked.payment_error != reason:
            locked.payment_error = reason[:300]
            locked.save(update_fields=["payment_error", "updated_at"])
        if locked.paid_at is not None or not order_can_transition(
            current=locked.status, target=S.FAILED
        ):
            _copy_into(order, locked)
            return locked, False
        previous = locked.status
        locked.status = S.FAILED
        locked.status_changed_at = timezone.now()
        locked.payment_error = reason[:300]
        line = order_history_line(
            order=locked,
            kind=Kind.PAYMENT_FAILED,
            source=source,
            from_status=previous,
            to_status=S.FAILED,
            message=message or reason,
        )
        fields = ["status", "status_changed_at", "payment_error", "updated_at"]
        _save_with_line(locked, fields, line, _status_effects(locked, previous))
        logger.info("Order %s: payment failed (%s)", locked.public_id, source)
    _copy_into(order, locked)
    return locked, True


def order_payment_claim(*, order: Order, source: str = Source.CONFIRM) -> Order:
    """The shopper's page reports a payment (the widget's success). Recorded once; it proves
    nothing: the caller asks the provider. Unconfirmed for ``ORDER_CLAIM_ATTENTION_MINUTES``, it
    puts the order in "needs attention"."""
    if order.paid_at is not None or order.payment_claimed_at is not None:
        return order
    with transaction.atomic():
        locked = order_lock(pk=order.pk)
        if locked.paid_at is None and locked.payment_claimed_at is None:
            locked.payment_claimed_at = timezone.now()
            locked.save(update_fields=["payment_claimed_at", "updated_at"])
            order_history_add(
                order=locked,
                kind=Kind.CLAIM,
                source=source,
                message="The shopper's page reported a completed payment.",
            )
    _copy_into(order, locked)
    return locked


# --- expiry and cancellation: the provider is asked first -------------------------------------

# Asks of the provider before an expiry or a cancellation is postponed, when payments keep
# appearing or moving between the ask and the order's lock (a shopper paying right now).
END_ROUNDS = 3


class EndResult(models.TextChoices):
    DONE = "done", "Done"
    PAID = "paid", "A completed payment was found: the order is paid"
    UNKNOWN = "unknown", "The payment provider could not be asked: nothing changed"
    NOT_ALLOWED = "not_allowed", "Not possible in this status"


def _end(
    *, order: Order, target: str, allowed: tuple[str, ...], source: str, actor: str, message: str
) -> EndResult:
    """Move ``order`` to ``target`` only once the provider said that no payment completed.

    Each round asks the provider (no lock held: it may wait on the network), then takes the
    order's lock and checks, in the database, that every payment the provider could still
    complete was answered "not completed" by a look-up that began in this round
    (``order_payments_answered``); only then the status changes, in that transaction. A payment
    that appeared or moved meanwhile makes another round; "could not ask" (``UNKNOWN``) or
    ``END_ROUNDS`` rounds without a settled answer change nothing.
    """
    first = True
    for _ in range(END_ROUNDS):
        began = timezone.now()
        fresh = Order.objects.get(pk=order.pk)
        if fresh.paid_at is not None or fresh.status not in allowed:
            _copy_into(order, fresh)
            return EndResult.PAID if fresh.paid_at and not first else EndResult.NOT_ALLOWED
        first = False
        verdict = order_payments_check(order=fresh, source=source, since=began)
        if verdict != ProviderVerdict.CLEAR:
            _copy_into(order, Order.objects.get(pk=order.pk))
            if verdict == ProviderVerdict.PAID:
                return EndResult.PAID
            logger.warning(
                "Order %s: not %s: the payment provider could not be asked%s",
                order.public_id,
                target,
                " (unreachable)" if order.provider_unreachable_since else "",
            )
            return EndResult.UNKNOWN
        with transaction.atomic():
            locked = order_lock(pk=order.pk)
            if locked.paid_at is not None or locked.status not in allowed:
                _copy_into(order, locked)
                return EndResult.PAID if locked.paid_at is not None else EndResult.NOT_ALLOWED
            if order_payments_answered(order=locked, since=began):
                order_set_status(
                    order=locked,
                    status=target,
                    source=source,
                    actor=actor,
                    message=message,
                    locked=True,
                )
                _copy_into(order, locked)
                return EndResult.DONE
        logger.info("Order %s: a payment moved while it was being checked", order.public_id)
    logger.warning("Order %s: not %s: its payments kept moving", order.public_id, target)
    return EndResult.UNKNOWN


def order_expire(
    *, order: Order, source: str = Source.EXPIRY, actor: str = "", minutes: int | None = None
) -> EndResult:
    """Expire an unpaid order past its payment time (``ORDER_EXPIRY_MINUTES``, or ``minutes``),
    after the provider confirmed that no payment completed. ``DONE`` when it expired; otherwise
    nothing changed (see ``EndResult``; ``UNKNOWN`` with ``provider_unreachable_since`` set: the
    provider can't be reached)."""
    if not order_is_stale(order=order, minutes=minutes):
        return EndResult.NOT_ALLOWED
    return _end(
        order=order,
        target=S.EXPIRED,
        allowed=EXPIRABLE,
        source=source,
        actor=actor,
        message=f"Not paid within {settings.ORDER_EXPIRY_MINUTES} minutes; no completed payment.",
    )


def order_cancel(*, order: Order, source: str, actor: str = "") -> EndResult:
    """Cancel an unpaid order after the provider confirmed that no payment completed. A payment
    found then wins (``PAID``); ``UNKNOWN``: the provider could not be asked, nothing changed."""
    return _end(
        order=order,
        target=S.CANCELLED,
        allowed=CANCELLABLE,
        source=source,
        actor=actor,
        message="Cancelled; no completed payment.",
    )


@dataclass(frozen=True)
class ExpiryRun:
    """What one expiry run did: the orders expired, found paid, and postponed because the
    provider could not be asked (``unreachable``: it can't be reached, so the run stopped and
    ``left`` orders wait for the next one)."""

    expired: list[Order] = dataclass_field(default_factory=list)
    paid: list[Order] = dataclass_field(default_factory=list)
    postponed: list[Order] = dataclass_field(default_factory=list)
    unreachable: bool = False
    left: int = 0


def orders_expire_run(
    *,
    now: datetime | None = None,
    minutes: int | None = None,
    source: str = Source.EXPIRY,
    limit: int | None = None,
) -> ExpiryRun:
    """Expire unpaid orders past their payment time (see ``orders_expire_stale``). When the
    provider can't be reached the run stops at that order: the others would only wait on it."""
    candidates = Order.objects.filter(order_stale_q(now=now, minutes=minutes)).order_by(
        "created_at", "pk"
    )
    orders = list(candidates[:limit] if limit else candidates)
    run = ExpiryRun()
    for index, order in enumerate(orders):
        result = order_expire(order=order, source=source, minutes=minutes)
        if result == EndResult.DONE:
            run.expired.append(order)
        elif result == EndResult.PAID:
            run.paid.append(order)
        elif result == EndResult.UNKNOWN:
            run.postponed.append(order)
            if order.provider_unreachable_since is not None:
                return replace(run, unreachable=True, left=len(orders) - index - 1)
    return run


def orders_expire_stale(
    *,
    now: datetime | None = None,
    minutes: int | None = None,
    dry_run: bool = False,
    source: str = Source.EXPIRY,
    limit: int | None = None,
) -> list[Order]:
    """Expire unpaid orders past their payment time; returns the orders (to be) expired.

    Safe to run concurrently: each order is re-checked under its row lock, and the provider is
    asked first, so a payment landing at the same moment wins. Orders whose provider can't be
    asked now are left for the next run.
    """
    if dry_run:
        candidates = Order.objects.filter(order_stale_q(now=now, minutes=minutes)).order_by(
            "created_at", "pk"
        )
        return list(candidates[:limit] if limit else candidates)
    return orders_expire_run(now=now, minutes=minutes, source=source, limit=limit).expired


# --- the payment provider could not be asked ---------------------------------------------------


def order_provider_unreachable(*, order: Order, source: str, message: str) -> bool:
    """The payment provider could not be asked about ``order`` (down, erroring, too slow): until
    its next answer (``order_provider_answered``) the order's page, its status JSON and the admin
    say so, and nothing is cancelled or expired. Set once, by a conditional update (no lock), with
    one history line (``message``, the provider's words); returns whether this call set it."""
    now = timezone.now()
    with transaction.atomic():
        changed = Order.objects.filter(pk=order.pk, provider_unreachable_since__isnull=True).update(
            provider_unreachable_since=now, updated_at=now
        )
        if changed:
            order_history_add(order=order, kind=Kind.RECHECK, source=source, message=message)
            transaction.on_commit(lambda: _push_fresh(order.pk))
    if changed:
        order.provider_unreachable_since = now
    return bool(changed)


def order_provider_answered(*, order: Order) -> None:
    """The payment provider answered about ``order`` (read under its row lock by the caller's
    transaction): it is no longer "unreachable"."""
    if order.provider_unreachable_since is None:
        return
    order.provider_unreachable_since = None
    order.save(update_fields=["provider_unreachable_since", "updated_at"])
    transaction.on_commit(lambda: notifications.push_status(order=order))


def _push_fresh(pk: int) -> None:
    fresh = Order.objects.filter(pk=pk).first()
    if fresh is not None:
        notifications.push_status(order=fresh)


# --- helpers ---------------------------------------------------------------------------------


def _save_with_line(
    locked: Order, fields: list[str], line: OrderEvent, also: Sequence[Write]
) -> None:
    """Save ``locked``'s changed ``fields`` (``updated_at`` among them) and append its history
    ``line``, with the caller's ``also``: one statement on PostgreSQL (``storefront.writes``)."""
    locked.updated_at = timezone.now()
    order_write = writes.update(
        Order.objects.filter(pk=locked.pk), **{name: getattr(locked, name) for name in fields}
    )
    writes.send(order_write, writes.insert(line), *also)
    if order_write.rows != 1:  # the caller holds the row's lock: it can't have gone
        raise DatabaseError(f"Order {locked.pk} was not saved.")


def _status_effects(order: Order, previous: str, *, email: str = "") -> tuple[Write, ...]:
    """In the transaction: the signals and the e-mail, as one task, to the outbox (returned as
    the task row's write, for the caller to send with the order's own); after commit: the
    browser push. ``email`` names the e-mail to send (a payment was recorded), if any.

    A change with no e-mail and no receiver of ``order_status_changed`` (connected in an app's
    ``ready()``, so the same in every process) enqueues nothing: a task for nobody would cost a
    row and a worker run per change (every payment link moves its order)."""
    transaction.on_commit(lambda: notifications.push_status(order=order))
    if email or (previous != order.status and order_status_changed.has_listeners(Order)):
        return outbox_writes(order_changed, order.pk, previous, order.status, email)
    return ()


def order_copy_status(*, target: Order, source: Order) -> None:
    """Refresh the caller's instance ``target`` in place from ``source`` (the same order, read
    under its lock), so it doesn't keep a stale status; no query."""
    _copy_into(target, source)


def _copy_into(target: Order, source: Order) -> None:
    if target is source:
        return
    for field in (
        "payment_error",
        "status",
        "status_changed_at",
        "paid_at",
        "payment_reference",
        "payment_claimed_at",
        "provider_unreachable_since",
        "updated_at",
    ):
        setattr(target, field, getattr(source, field))
