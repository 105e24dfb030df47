"""Installments of recurring payments: the one evaluator and the writer the settlement service
calls.

banq charges a recurring payment again every period; each charge is a transaction of that
payment (``banq.payloads.RemoteInstallment``: from the payment's ``transactions`` list, or a
transaction fetched on its own). The order's own payment is installment 0.

``installment_evaluate`` decides what one charge means for the order's subscription, and writes
nothing: recorded as paid (with a receipt e-mail) or failed (banq's reason, a flag, an e-mail to
the shopper), rejected (its order code, amount or destination don't check out: flagged like a
one-time mismatch), a second charge of an installment already paid or one outside the plan
(flagged: refund), or known already (a redelivery: nothing to do). ``installments_apply`` runs it
for every charge banq reports, inside ``banq.settlement.payment_apply`` (the one locked service:
the order's row is locked, so duplicate and out-of-order events, the sweep and a webhook at the
same moment record each transaction once; the database's unique constraints say so as well).

The sweep's check for overdue installments is ``banq.overdue``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from django.db import models

from banq.fail_reasons import fail_reason_text
from banq.payloads import RemoteInstallment
from banq.verification import installment_charge, verify_charge
from orders.models import Installment, Order, OrderFlag, Subscription
from orders.notifications import EMAIL_INSTALLMENT_AFTER_CANCEL
from orders.services import (
    installment_name_transaction,
    installment_paid_after_failure,
    installment_record,
    order_flag_raise,
    subscription_get,
)
from orders.services.subscriptions import EMAIL_INSTALLMENT_FAILED, EMAIL_INSTALLMENT_PAID
from storefront import metrics

if TYPE_CHECKING:
    from banq.payloads import RemotePayment, RemoteTransaction

logger = logging.getLogger(__name__)

Flag = OrderFlag.Kind
Status = Installment.Status


class InstallmentResult(models.TextChoices):
    FIRST = "first", "First payment recorded as installment 1"
    NAMED = "named", "First payment's transaction named"
    PAID = "paid", "Installment paid"
    FAILED = "failed", "Installment failed"
    PAID_AFTER_FAILURE = "paid_after_failure", "Installment paid after failing"
    REJECTED = "rejected", "Rejected by verification"
    PAID_TWICE = "paid_twice", "Installment charged twice: refund one"
    OUTSIDE_PLAN = "outside_plan", "Charged outside the plan: refund"
    AFTER_CANCEL = "after_cancel", "Charged after the plan was cancelled: refund"
    CONTRADICTION = "contradiction", "banq contradicts its earlier answer"
    KNOWN = "known", "Recorded before"
    OPEN = "open", "Not charged yet"
    NOT_OURS = "not_ours", "Not a charge of this order's plan"


# The results that write something (the others change nothing).
WRITING = frozenset(
    {
        InstallmentResult.FIRST,
        InstallmentResult.NAMED,
        InstallmentResult.PAID,
        InstallmentResult.FAILED,
        InstallmentResult.PAID_AFTER_FAILURE,
        InstallmentResult.REJECTED,
        InstallmentResult.PAID_TWICE,
        InstallmentResult.OUTSIDE_PLAN,
        InstallmentResult.AFTER_CANCEL,
        InstallmentResult.CONTRADICTION,
    }
)


@dataclass(frozen=True)
class InstallmentEvaluation:
    result: InstallmentResult
    reason: str = ""
    status: str = ""  # the Installment.Status to record, when a row is written
    flag: str = ""  # an OrderFlag.Kind to raise, if any
    email: str = ""  # the e-mail to the shopper, if any
    counts: bool = True  # it is banq's word on the plan's installment: the expectation moves


@dataclass(frozen=True)
class InstallmentOutcome:
    """What ``installments_apply`` did with one charge."""

    result: InstallmentResult
    number: int | None
    transaction_id: str
    reason: str = ""


def result_writes_row(result: InstallmentResult) -> bool:
    """Whether recording ``result`` (one of ``WRITING``) leaves an installment row: banq
    contradicting itself only raises a flag."""
    return result != InstallmentResult.CONTRADICTION


# --- the evaluator: no writes ----------------------------------------------------------------


def installment_evaluate(
    *,
    order: Order,
    subscription: Subscription,
    remote: RemotePayment,
    item: RemoteInstallment,
    known: Installment | None,
    paid: Installment | None,
) -> InstallmentEvaluation:
    """What banq's charge ``item`` of payment ``remote`` means for ``order``'s ``subscription``.
    Pure: reads nothing, writes nothing.

    ``known`` is what we recorded for the same transaction id, if anything; ``paid`` the
    installment already recorded as paid under the same number, if any.
    """
    n = item.number
    label = f"Installment {n + 1}" if n is not None else "A charge"
    tx = item.guid or "(no id)"
    if order.paid_at is None or order.payment_reference != remote.id[:64]:
        return _not_the_plans_payment(order=order, remote=remote, item=item, label=label, tx=tx)
    if known is not None:
        return _known_charge(known=known, item=item, label=label, tx=tx)
    if not (item.is_completed or item.is_failed):
        return InstallmentEvaluation(
            InstallmentResult.OPEN, f"banq reports transaction {tx} as {item.status or 'unknown'}."
        )
    if n is None:
        return InstallmentEvaluation(
            InstallmentResult.NOT_OURS, f"banq gave no installment number for transaction {tx}."
        )
    charge = installment_charge(order=order, subscription=subscription, remote=remote, item=item)
    problem = verify_charge(order=order, charge=charge)
    if problem is not None:
        return InstallmentEvaluation(
            InstallmentResult.REJECTED, problem.message, Status.REJECTED, problem.flag
        )
    if n == 0:
        return _first_payment(order=order, item=item, paid=paid, label=label, tx=tx)
    return _later_installment(
        order=order, subscription=subscription, item=item, paid=paid, label=label, tx=tx
    )


def _not_the_plans_payment(
    *, order: Order, remote: RemotePayment, item: RemoteInstallment, label: str, tx: str
) -> InstallmentEvaluation:
    """A charge of a banq payment that did not pay this order: a refund if it took money."""
    if item.is_completed and item.number and order.paid_at is not None:
        return InstallmentEvaluation(
            InstallmentResult.OUTSIDE_PLAN,
            f"banq payment {remote.id}, which did not pay this order, charged {label.lower()} "
            f"(transaction {tx}): refund it and stop that payment at banq.",
            Status.DUPLICATE,
            Flag.INSTALLMENT_UNEXPECTED,
            counts=False,
        )
    return InstallmentEvaluation(
        InstallmentResult.NOT_OURS,
        f"banq payment {remote.id} is not the payment of this order's plan.",
    )


def _known_charge(
    *, known: Installment, item: RemoteInstallment, label: str, tx: str
) -> InstallmentEvaluation:
    """A transaction recorded before: paid after failing, a contradiction, or a redelivery."""
    if known.status == Status.FAILED and item.is_completed:
        return InstallmentEvaluation(
            InstallmentResult.PAID_AFTER_FAILURE,
            f"{label}: transaction {tx}, reported failed before, is now completed.",
            Status.PAID,
            email=EMAIL_INSTALLMENT_PAID,
        )
    if known.status == Status.PAID and item.is_failed:
        return InstallmentEvaluation(
            InstallmentResult.CONTRADICTION,
            f"banq now reports paid transaction {tx} ({label.lower()}) as failed "
            f"({item.fail_reason or 'unknown'}); nothing changed.",
            flag=Flag.PAYMENT_CONTRADICTION,
        )
    return InstallmentEvaluation(InstallmentResult.KNOWN, f"Transaction {tx} recorded before.")


def _first_payment(
    *, order: Order, item: RemoteInstallment, paid: Installment | None, label: str, tx: str
) -> InstallmentEvaluation:
    """Installment 0, the order's own payment (checked out already)."""
    if item.is_failed:  # the order's own payment failing is the payment's business
        return InstallmentEvaluation(
            InstallmentResult.NOT_OURS, "The first payment's failure is the order's own."
        )
    if paid is None:
        # Paid after the order was cancelled: recorded (money received; the order is
        # flagged for a refund), but the plan never starts.
        cancelled = order.status == Order.Status.CANCELLED
        return InstallmentEvaluation(InstallmentResult.FIRST, "", Status.PAID, counts=not cancelled)
    if not paid.transaction_id:
        return InstallmentEvaluation(
            InstallmentResult.NAMED, f"The first payment is transaction {tx}."
        )
    return InstallmentEvaluation(
        InstallmentResult.PAID_TWICE,
        f"{label} was charged twice: transactions {paid.transaction_id} and {tx}: refund one.",
        Status.DUPLICATE,
        Flag.DUPLICATE_PAYMENT,
    )


def _later_installment(
    *,
    order: Order,
    subscription: Subscription,
    item: RemoteInstallment,
    paid: Installment | None,
    label: str,
    tx: str,
) -> InstallmentEvaluation:
    """Installment 1 or later (checked out already): after the plan's end, failed, twice, for a
    cancelled order, or paid."""
    if subscription.state == Subscription.State.CANCELLED:
        return _after_cancel(label=label, tx=tx, item=item, paid=paid)
    if subscription.plan.due(item.number or 0) is None:
        if item.is_completed:
            status = Status.PAID if paid is None else Status.DUPLICATE
            what = "was charged: refund it, and stop the payment at banq"
        else:
            status, what = Status.FAILED, "was attempted (it failed): stop the payment at banq"
        return InstallmentEvaluation(
            InstallmentResult.OUTSIDE_PLAN,
            f"{label} (transaction {tx}) is after the plan's end and {what}.",
            status,
            Flag.INSTALLMENT_UNEXPECTED,
        )
    if item.is_failed:
        return InstallmentEvaluation(
            InstallmentResult.FAILED,
            f"{label} failed at banq: {item.fail_reason or 'no reason given'} (transaction {tx}).",
            Status.FAILED,
            Flag.INSTALLMENT_FAILED,
            EMAIL_INSTALLMENT_FAILED,
        )
    if paid is not None:
        return InstallmentEvaluation(
            InstallmentResult.PAID_TWICE,
            f"{label} was charged twice: transactions {paid.transaction_id or '(first)'} and "
            f"{tx}: refund one.",
            Status.DUPLICATE,
            Flag.DUPLICATE_PAYMENT,
        )
    if order.status == Order.Status.CANCELLED:
        return InstallmentEvaluation(
            InstallmentResult.OUTSIDE_PLAN,
            f"{label} (transaction {tx}) was charged for a cancelled order: refund it, and stop "
            "the payment at banq.",
            Status.PAID,
            Flag.INSTALLMENT_UNEXPECTED,
        )
    return InstallmentEvaluation(
        InstallmentResult.PAID, "", Status.PAID, email=EMAIL_INSTALLMENT_PAID
    )


def _after_cancel(
    *, label: str, tx: str, item: RemoteInstallment, paid: Installment | None
) -> InstallmentEvaluation:
    """A charge of a plan the shopper or merchant cancelled: none is expected. Money taken is
    recorded, flagged for a refund, and the shopper is told; a failed attempt is flagged only
    (banq is still charging: the plan must be stopped there)."""
    if item.is_completed:
        return InstallmentEvaluation(
            InstallmentResult.AFTER_CANCEL,
            f"{label} (transaction {tx}) was charged after the plan was cancelled: refund it, "
            "and make sure the payment is stopped at banq.",
            Status.PAID if paid is None else Status.DUPLICATE,
            Flag.INSTALLMENT_UNEXPECTED,
            EMAIL_INSTALLMENT_AFTER_CANCEL,
            counts=False,
        )
    return InstallmentEvaluation(
        InstallmentResult.AFTER_CANCEL,
        f"{label} (transaction {tx}) was attempted after the plan was cancelled (it failed): "
        "stop the payment at banq.",
        Status.FAILED,
        Flag.INSTALLMENT_UNEXPECTED,
        counts=False,
    )


# --- the writer: inside payment_apply, with the order locked ----------------------------------


def _charges(
    *, order: Order, remote: RemotePayment, transaction: RemoteTransaction | None
) -> list[RemoteInstallment]:
    """Every charge banq reports for ``remote``: its ``transactions``, the fetched
    ``transaction`` (its own order code wins over the list's), and, when banq lists none for
    installment 0 and the payment paid the order, the payment itself as installment 0."""
    charges = {c.guid: c for c in remote.installments if c.guid}
    fetched = transaction.as_installment() if transaction is not None else None
    if fetched is not None and (fetched.payment_guid in (None, remote.id)):
        listed = charges.get(fetched.guid)
        charges[fetched.guid] = (
            fetched
            if listed is None
            else replace(
                listed,
                external_order_code=fetched.external_order_code or listed.external_order_code,
            )
        )
    found = sorted(charges.values(), key=lambda c: (c.number is None, c.number or 0))
    if (
        remote.is_completed
        and order.payment_reference == remote.id[:64]
        and not any(c.number == 0 for c in found)
    ):
        found.insert(
            0,
            RemoteInstallment(
                guid="",
                status=remote.status,
                funds=remote.funds,
                fail_reason=None,
                number=0,
                scheduled_date=remote.start_date,
                completed_at=remote.completed_at,
                external_order_code=remote.external_order_code,
                payment_guid=remote.id,
                currency=remote.currency,
            ),
        )
    return found


def installments_apply(
    *,
    order: Order,
    remote: RemotePayment,
    transaction: RemoteTransaction | None = None,
    source: str,
) -> tuple[InstallmentOutcome, ...]:
    """Record every charge of ``remote`` that ``order``'s subscription doesn't have yet, as
    ``installment_evaluate`` decides. Called by ``banq.settlement.payment_apply`` with the order
    locked (and read under the lock). Nothing for a one-time order (no query). Returns what was
    written."""
    return _walk(order=order, remote=remote, transaction=transaction, source=source)


def installments_preview(*, order: Order, remote: RemotePayment) -> tuple[InstallmentOutcome, ...]:
    """What ``installments_apply`` would record for ``order`` (as it will be once banq's payment
    is applied) now; writes nothing (``banq_reconcile --dry-run``)."""
    return _walk(order=order, remote=remote, transaction=None, source="")


def _walk(
    *, order: Order, remote: RemotePayment, transaction: RemoteTransaction | None, source: str
) -> tuple[InstallmentOutcome, ...]:
    """The charges ``installment_evaluate`` says to record, in banq's order, each seeing the ones
    before it; written when ``source`` names who applies them, else only counted (a preview)."""
    if not order.recurring:
        return ()
    subscription = subscription_get(order=order)
    if subscription is None:
        return ()
    charges = _charges(order=order, remote=remote, transaction=transaction)
    if not charges:
        return ()
    rows = list(subscription.installments.all())
    by_tx = {row.transaction_id: row for row in rows if row.transaction_id}
    paid_by_number = {row.number: row for row in rows if row.status == Status.PAID}
    done: list[InstallmentOutcome] = []
    for item in charges:
        known = by_tx.get(item.guid) if item.guid else None
        paid = paid_by_number.get(item.number) if item.number is not None else None
        evaluation = installment_evaluate(
            order=order,
            subscription=subscription,
            remote=remote,
            item=item,
            known=known,
            paid=paid,
        )
        if evaluation.result not in WRITING:
            continue
        if source:
            row = _write(
                order=order,
                subscription=subscription,
                remote=remote,
                item=item,
                evaluation=evaluation,
                known=known,
                paid=paid,
                source=source,
            )
        elif result_writes_row(evaluation.result):  # what would be written, for those after it
            row = Installment(
                number=item.number or 0, transaction_id=item.guid, status=evaluation.status
            )
        else:
            row = None
        if row is not None and row.transaction_id:
            by_tx[row.transaction_id] = row
        if row is not None and row.status == Status.PAID:
            paid_by_number[row.number] = row
        done.append(
            InstallmentOutcome(evaluation.result, item.number, item.guid, evaluation.reason)
        )
        if source:
            _log(order=order, remote=remote, item=item, evaluation=evaluation, source=source)
    return tuple(done)


def _log(
    *,
    order: Order,
    remote: RemotePayment,
    item: RemoteInstallment,
    evaluation: InstallmentEvaluation,
    source: str,
) -> None:
    metrics.INSTALLMENTS.labels(result=evaluation.result.value).inc()
    logger.log(
        logging.WARNING if evaluation.flag else logging.INFO,
        "Order %s: banq payment %s installment %s: %s (%s)%s",
        order.public_id,
        remote.id,
        installment_ordinal(item.number),
        evaluation.result.value,
        source,
        f": {evaluation.reason}" if evaluation.reason else "",
        extra={"order": order.number},
    )


def _write(
    *,
    order: Order,
    subscription: Subscription,
    remote: RemotePayment,
    item: RemoteInstallment,
    evaluation: InstallmentEvaluation,
    known: Installment | None,
    paid: Installment | None,
    source: str,
) -> Installment | None:
    result = evaluation.result
    if result == InstallmentResult.NAMED and paid is not None:
        installment_name_transaction(installment=paid, transaction_id=item.guid)
        return paid
    if result == InstallmentResult.PAID_AFTER_FAILURE and known is not None:
        return installment_paid_after_failure(
            order=order, installment=known, occurred_at=item.completed_at, source=source
        )
    if not result_writes_row(result):
        order_flag_raise(
            order=order,
            kind=evaluation.flag,
            note=evaluation.reason,
            reference=item.guid,
            source=source,
        )
        return None
    return installment_record(
        order=order,
        subscription=subscription,
        number=item.number if item.number is not None else 0,
        status=evaluation.status,
        transaction_id=item.guid,
        payment_reference=remote.id,
        amount=item.funds,
        due_date=item.scheduled_date or subscription.plan.due(item.number or 0),
        occurred_at=item.completed_at if item.is_completed else None,
        source=source,
        fail_reason=(item.fail_reason or "unknown") if item.is_failed else "",
        fail_text=fail_reason_text(item.fail_reason) if item.is_failed else "",
        note=evaluation.reason if evaluation.flag else "",
        flag=evaluation.flag,
        flag_note=evaluation.reason,
        email=evaluation.email,
        expect=evaluation.counts,
    )


def installment_ordinal(number: int | None) -> str:
    """How people count installments (the first payment is 1; banq and our rows count from 0)."""
    return "?" if number is None else str(number + 1)


def installment_results(outcomes: Iterable[InstallmentOutcome]) -> str:
    """A short summary for a log line or a webhook event's note."""
    return "; ".join(
        f"installment {installment_ordinal(o.number)}: {o.result.label.lower()}"
        + (f" ({o.reason})" if o.reason else "")
        for o in outcomes
    )
