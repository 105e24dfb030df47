"""The one locked service that applies banq's word about a payment to our order, and the one
evaluator that decides what that word means.

``payment_evaluate`` turns (our order, our attempt, banq's payment) into a ``Settlement`` with its
reason and the flag to raise, and writes nothing (what each verdict means, for the log, the admin,
the webhooks and reconcile, is in ``banq.outcomes``). Everything that acts on banq's answer uses it:
``payment_apply`` (the webhook processor, the shopper's confirm, the sweep, reconcile, the admin),
``payment_preview`` (``banq_reconcile --dry-run``), so a dry run and a real run can't disagree.

``payment_apply`` finds our attempt (by banq's payment id, else by link URL, else the order by
``externalOrderCode``), locks the order, then the attempt (``orders.locks`` order), evaluates and
records:

- ``paid``: completed and verified (order code, exact amount, our destination):
  ``orders.services.order_mark_paid`` (once; a cancelled order keeps its status, flagged for a
  refund);
- ``already_paid``: this payment was recorded before (redelivery); ``paid_twice``: the order was
  paid by another payment, this one is flagged for a refund;
- ``rejected``: completed but not checking out; the order is left as it is and flagged;
- ``failed``: the order's live attempt failed (our own link, the newest open one, the order awaiting
  payment): the order becomes ``failed``; ``failed_elsewhere``: a superseded, older or foreign
  payment failed: recorded, the order unchanged;
- ``not_completed``: still open at banq; ``unmatched``: no order for it.

A banq payment the store did not create is recorded as an attempt (``created_by_store`` False) and
flagged as unknown; it never changes the order's status except by paying it in full.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import DatabaseError, transaction
from django.utils import timezone

from banq.client import BanqClient, get_banq_client
from banq.fail_reasons import fail_reason_text
from banq.installments import InstallmentOutcome, installments_apply, installments_preview
from banq.models import BanqPayment
from banq.outcomes import PAID_OUTCOMES, Settlement
from banq.payloads import jsonable
from banq.verification import payment_charge, verify_charge
from orders.locks import order_lock
from orders.models import Order, OrderEvent, OrderFlag
from orders.services import (
    order_flag_raise,
    order_history_add,
    order_mark_paid,
    order_mark_payment_failed,
    order_provider_answered,
)
from storefront import metrics, writes
from storefront.writes import Write

if TYPE_CHECKING:
    from banq.payloads import RemotePayment, RemoteTransaction

logger = logging.getLogger(__name__)

Source = OrderEvent.Source
Flag = OrderFlag.Kind
Attempt = BanqPayment.Status


@dataclass(frozen=True)
class Evaluation:
    outcome: Settlement
    reason: str = ""
    flag: str = ""  # an OrderFlag.Kind to raise, if any
    foreign: bool = False  # a payment the store did not create


@dataclass(frozen=True)
class PaymentOutcome:
    """What ``payment_apply`` did: the evaluation's ``result`` and ``reason``, whether the order's
    payment state really changed (it became paid or failed), the order and the attempt."""

    result: Settlement
    changed: bool = False
    order: Order | None = None
    attempt: BanqPayment | None = None
    reason: str = ""
    # A recurring payment's installments recorded by this call (``banq.installments``).
    installments: tuple[InstallmentOutcome, ...] = ()


# --- the evaluator: no writes ----------------------------------------------------------------


def payment_evaluate(
    *,
    order: Order | None,
    attempt: BanqPayment | None,
    remote: RemotePayment,
    live_attempt_id: int | None,
) -> Evaluation:
    """What banq's payment ``remote`` means for ``order``. Pure: reads nothing, writes nothing.

    ``attempt`` is our record of the payment (None or ``created_by_store=False``: the store did not
    create it); ``live_attempt_id`` is the order's live attempt: its newest open link made by the
    store, the only one whose failure fails the order.
    """
    if order is None:
        return Evaluation(
            Settlement.UNMATCHED,
            f"No order matches banq payment {remote.id} "
            f"(order code {remote.external_order_code or 'missing'}).",
        )
    foreign = attempt is None or not attempt.created_by_store
    if remote.is_completed:
        return _evaluate_completed(order=order, remote=remote, foreign=foreign)
    if remote.is_failed:
        live = (
            not foreign
            and attempt is not None
            and attempt.pk == live_attempt_id
            and order.status == Order.Status.AWAITING_PAYMENT
            and order.paid_at is None
        )
        was_completed = attempt is not None and attempt.status == Attempt.COMPLETED
        return _evaluate_failed(
            order=order, remote=remote, foreign=foreign, live=live, was_completed=was_completed
        )
    return Evaluation(
        Settlement.NOT_COMPLETED,
        f"banq reports the payment as {remote.status or 'unknown'}.",
        Flag.UNKNOWN_PAYMENT if foreign else "",
        foreign,
    )


def _evaluate_completed(*, order: Order, remote: RemotePayment, foreign: bool) -> Evaluation:
    """banq says ``remote`` completed: paid, unless it does not check out or the order already
    has its money."""
    problem = verify_charge(order=order, charge=payment_charge(order=order, remote=remote))
    if problem is not None:
        return Evaluation(Settlement.REJECTED, problem.message, problem.flag, foreign)
    if order.paid_at is not None:
        if order.payment_reference == remote.id[:64]:
            return Evaluation(Settlement.ALREADY_PAID, "The order is already paid.")
        return Evaluation(
            Settlement.PAID_TWICE,
            f"Order already paid by banq payment {order.payment_reference}; banq payment "
            f"{remote.id} also completed: refund one of them.",
            Flag.DUPLICATE_PAYMENT,
            foreign,
        )
    if not foreign:
        return Evaluation(Settlement.PAID)
    return Evaluation(
        Settlement.PAID,
        f"banq payment {remote.id} for this order was not created by the store "
        f"(status {remote.status or 'unknown'}).",
        Flag.UNKNOWN_PAYMENT,
    )


def _evaluate_failed(
    *, order: Order, remote: RemotePayment, foreign: bool, live: bool, was_completed: bool
) -> Evaluation:
    """banq says ``remote`` failed: only the order's ``live`` attempt fails the order, and a
    payment banq reported completed before is a contradiction."""
    fail_reason = remote.fail_reason or "unknown"
    if was_completed:
        return Evaluation(
            Settlement.CONTRADICTION,
            f"banq now reports completed payment {remote.id} as failed ({fail_reason}); "
            "nothing changed.",
            Flag.PAYMENT_CONTRADICTION,
            foreign,
        )
    if live:
        return Evaluation(Settlement.FAILED, f"banq payment failed: {fail_reason}.")
    return Evaluation(
        Settlement.FAILED_ELSEWHERE,
        f"banq payment {remote.id} failed ({fail_reason}); it is not the order's live "
        f"payment, so the order stays {order.status}.",
        Flag.UNKNOWN_PAYMENT if foreign else "",
        foreign,
    )


# --- reads -----------------------------------------------------------------------------------


def attempt_live(*, order: Order) -> BanqPayment | None:
    """The order's live attempt: the newest open link the store made."""
    return (
        BanqPayment.objects.filter(order=order, status=Attempt.CREATED, created_by_store=True)
        .order_by("-created_at", "-pk")
        .first()
    )


def _find_attempt(remote: RemotePayment, *, lock: bool = False) -> BanqPayment | None:
    """Our record of banq's payment: by banq's id, else (banq's link answer may not carry an id)
    by the link URL. ``lock``: the attempt and its order are read and locked in one query (order
    before attempt, as ``orders.locks`` says; the attempt comes with ``.order`` filled)."""
    query = BanqPayment.objects.all()
    if lock:
        query = query.select_related("order").select_for_update(of=("order", "self"))
    if remote.id:
        attempt = query.filter(banq_payment_id=remote.id).order_by("-pk").first()
        if attempt is not None:
            return attempt
    if remote.url:
        return query.filter(url=remote.url, banq_payment_id="").order_by("-pk").first()
    return None


def _order_id_by_code(code: str | None) -> int | None:
    if not code:
        return None
    return Order.objects.filter(number=code).values_list("pk", flat=True).first()


def payment_preview(*, remote: RemotePayment) -> PaymentOutcome:
    """What ``payment_apply(remote=...)`` would decide now, with the installments of a recurring
    payment it would record; writes nothing (dry runs)."""
    attempt = _find_attempt(remote)
    order_id = attempt.order_id if attempt else _order_id_by_code(remote.external_order_code)
    order = Order.objects.filter(pk=order_id).first() if order_id else None
    live = attempt_live(order=order) if order else None
    evaluation = payment_evaluate(
        order=order, attempt=attempt, remote=remote, live_attempt_id=live.pk if live else None
    )
    installments: tuple[InstallmentOutcome, ...] = ()
    if order is not None:
        if evaluation.outcome == Settlement.PAID:
            # The order as recording banq's payment leaves it (``_record``): paid by it.
            order.paid_at = remote.completed_at or timezone.now()
            order.payment_reference = remote.id[:64]
        installments = installments_preview(order=order, remote=remote)
    return PaymentOutcome(
        evaluation.outcome,
        order=order,
        attempt=attempt,
        reason=evaluation.reason,
        installments=installments,
    )


# --- the writer ------------------------------------------------------------------------------


def payment_apply(
    *,
    remote: RemotePayment,
    source: str = Source.WEBHOOK,
    remote_transaction: RemoteTransaction | None = None,
) -> PaymentOutcome:
    """Apply banq's re-fetched payment ``remote`` to our order, exactly once (see the module doc).

    Safe to call any number of times, concurrently too: the order row is locked and
    ``order_mark_paid`` is a no-op for a paid order. Raises nothing for banq's data; database
    errors propagate (and roll everything back). A recurring payment's charges (its
    ``transactions``, and ``remote_transaction`` when a transaction event was re-fetched) are
    recorded as the order's installments under the same lock (``banq.installments``).
    """
    # No savepoint: a failure here rolls back the caller's transaction too, as it should.
    with transaction.atomic(savepoint=False):
        attempt = _find_attempt(remote, lock=True)
        if attempt is not None:
            order = attempt.order
        else:  # a payment we have no record of: its order, by the order code banq names
            order_id = _order_id_by_code(remote.external_order_code)
            if order_id is None:
                evaluation = payment_evaluate(
                    order=None, attempt=None, remote=remote, live_attempt_id=None
                )
                logger.warning("banq payment %s: no matching order", remote.id)
                metrics.SETTLEMENTS.labels(verdict=evaluation.outcome.value, source=source).inc()
                return PaymentOutcome(evaluation.outcome, reason=evaluation.reason)
            order = order_lock(pk=order_id)
            # A concurrent call may have recorded it meanwhile (it held this lock).
            attempt = _find_attempt(remote) or _attempt_record_foreign(order=order, remote=remote)
        # banq answered about this order: it is reachable again (the page stops saying otherwise).
        order_provider_answered(order=order)
        # Which attempt is live matters only to a failure (only the live one fails the order).
        live = attempt_live(order=order) if remote.is_failed else None
        evaluation = payment_evaluate(
            order=order, attempt=attempt, remote=remote, live_attempt_id=live.pk if live else None
        )
        order, changed = _record(
            order=order, attempt=attempt, remote=remote, evaluation=evaluation, source=source
        )
        # Hook: a recurring order's installments (none for a one-time order, without a query).
        installments = installments_apply(
            order=order, remote=remote, transaction=remote_transaction, source=source
        )
    _log(order, remote, evaluation, source)
    return PaymentOutcome(
        evaluation.outcome,
        changed=changed,
        order=order,
        attempt=attempt,
        reason=evaluation.reason,
        installments=installments,
    )


def _attempt_record_foreign(*, order: Order, remote: RemotePayment) -> BanqPayment:
    logger.warning(
        "Order %s: banq payment %s was not created by the store; recording it",
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
        created_by_store=False,
    )


ATTEMPT_RESULT_FIELDS = [
    "banq_payment_id",
    "banq_status",
    "last_payload",
    "checked_at",
    "status",
    "verification_error",
    "fail_reason",
    "completed_at",
    "next_check_at",
    "updated_at",
]


def _record(
    *,
    order: Order,
    attempt: BanqPayment,
    remote: RemotePayment,
    evaluation: Evaluation,
    source: str,
) -> tuple[Order, bool]:
    """Write what ``evaluation`` decided, with ``order`` locked by the caller. Returns the order
    as it now is, and whether its payment state changed."""
    if (
        evaluation.outcome == Settlement.ALREADY_PAID
        and attempt.status == Attempt.COMPLETED
        and attempt.banq_status == (remote.status or "")[:40]
    ):
        return order, False  # a redelivery: banq says what it said, nothing to write
    attempt_write = _attempt_record(attempt=attempt, remote=remote, evaluation=evaluation)
    order, changed = _order_record(
        order=order, remote=remote, evaluation=evaluation, source=source, also=attempt_write
    )
    if attempt_write and attempt_write[0].rows != 1:  # locked by the caller: it can't have gone
        raise DatabaseError(f"banq payment attempt {attempt.pk} was not saved.")
    if evaluation.flag:
        order_flag_raise(
            order=order,
            kind=evaluation.flag,
            note=evaluation.reason,
            reference=remote.id,
            source=source,
        )
    return order, changed


def _attempt_record(
    *, attempt: BanqPayment, remote: RemotePayment, evaluation: Evaluation
) -> tuple[Write, ...]:
    """Our attempt takes banq's word: its status, payload and time, and what the verdict says.
    A new attempt is saved here; an existing one's change is returned as a write, for the order's
    writes to carry (one statement with them on PostgreSQL: ``storefront.writes``)."""
    outcome = evaluation.outcome
    now = timezone.now()
    if remote.id and not attempt.banq_payment_id:
        attempt.banq_payment_id = remote.id[:64]
    attempt.banq_status = (remote.status or "")[:40]
    attempt.last_payload = jsonable(remote.raw) if remote.raw else None
    attempt.checked_at = now
    if outcome in PAID_OUTCOMES:
        attempt.status = Attempt.COMPLETED
        attempt.verification_error = ""
        attempt.fail_reason = ""
        attempt.completed_at = attempt.completed_at or remote.completed_at or now
    elif outcome == Settlement.REJECTED:
        attempt.status = Attempt.REJECTED
        attempt.verification_error = evaluation.reason
    elif outcome in (Settlement.FAILED, Settlement.FAILED_ELSEWHERE, Settlement.CONTRADICTION):
        attempt.fail_reason = (remote.fail_reason or "unknown")[:200]
        if outcome != Settlement.CONTRADICTION and attempt.status == Attempt.CREATED:
            attempt.status = Attempt.FAILED
    if attempt.status in BanqPayment.FINAL_STATUSES:
        attempt.next_check_at = None
    if attempt._state.adding:
        attempt.save()
        return ()
    attempt.updated_at = now
    values = {name: getattr(attempt, name) for name in ATTEMPT_RESULT_FIELDS}
    return (writes.update(BanqPayment.objects.filter(pk=attempt.pk), **values),)


def _order_record(
    *,
    order: Order,
    remote: RemotePayment,
    evaluation: Evaluation,
    source: str,
    also: tuple[Write, ...],
) -> tuple[Order, bool]:
    """The order takes the verdict: paid, failed, or a line of its history. ``also``: the
    attempt's write, sent with the order's when it is paid, first otherwise."""
    outcome = evaluation.outcome
    if outcome == Settlement.PAID:
        return order_mark_paid(
            order=order,
            payment_reference=remote.id,
            paid_at=remote.completed_at,
            source=source,
            message=f"banq payment {remote.id} completed and verified.",
            locked=True,
            also=also,
        )
    writes.send(*also)
    if outcome == Settlement.FAILED:
        return order_mark_payment_failed(
            order=order,
            reason=fail_reason_text(remote.fail_reason),
            source=source,
            message=evaluation.reason,
        )
    if outcome != Settlement.ALREADY_PAID:
        order_history_add(
            order=order,
            kind=OrderEvent.Kind.RECHECK,
            source=source,
            message=f"banq payment {remote.id}: {outcome.label}. {evaluation.reason}".strip(),
            data={"payment": remote.id, "outcome": outcome.value},
        )
    return order, False


def _log(order: Order, remote: RemotePayment, evaluation: Evaluation, source: str) -> None:
    metrics.SETTLEMENTS.labels(verdict=evaluation.outcome.value, source=source).inc()
    logger.log(
        evaluation.outcome.meaning.log_level,
        "Order %s: banq payment %s %s (%s)%s",
        order.public_id,
        remote.id,
        evaluation.outcome.value,
        source,
        f": {evaluation.reason}" if evaluation.reason else "",
        extra={"order": order.number},  # the order number in JSON log lines (storefront.logs)
    )


# --- asking banq -----------------------------------------------------------------------------


def payment_recheck(
    *,
    attempt: BanqPayment,
    source: str,
    in_request: bool = False,
    client: BanqClient | None = None,
) -> PaymentOutcome:
    """Fetch banq's current view of ``attempt`` and apply it.

    Raises the ``BanqError`` family when banq can't be asked (``BanqUnavailable`` is retryable).
    ``in_request``: no retries, short timeouts (see ``banq.client``); ``client``: the banq client
    to ask (default: ``get_banq_client(in_request=...)``). An attempt without banq's payment id
    can't be asked about: the outcome is ``unmatched``.
    """
    if not attempt.banq_payment_id:
        return PaymentOutcome(
            Settlement.UNMATCHED,
            order=attempt.order,
            attempt=attempt,
            reason="This attempt has no banq payment id to look up.",
        )
    client = client or get_banq_client(in_request=in_request)
    remote = client.get_payment(attempt.banq_payment_id)
    return payment_apply(remote=remote, source=source)
