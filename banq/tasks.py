"""Background work of the banq app, run by ``manage.py worker``.

``banq_sweep`` (periodic, every few seconds): the store finds out about payments by itself. Every
open payment attempt (a link banq could still complete) is asked about on its schedule
(``banq.services.attempt_next_check``: soon after the link was handed out, then less and less
often), and banq's answer is applied through the same locked service as a webhook. With no webhook
at all, a payment made in the banq app reaches the order within the first delays of the schedule.

It also expects installments of recurring plans (``banq.overdue.installments_sweep``): a
subscription whose installment is overdue by ``BANQ_INSTALLMENT_GRACE`` gets its payment
re-fetched, what banq has is recorded, and a missing installment is flagged.

Each run takes at most its share of ``BANQ_SWEEP_MAX_CALLS_PER_MINUTE``. Attempts are claimed
under a row lock (``skip_locked``) and their next check is moved before banq is called, so several
workers never ask about the same attempt twice; each look-up goes through ``banq.lookups`` (one
at a time per attempt, whoever asks: an attempt someone else is asking about right now is left to
them). A look-up that fails is asked again within ``FAILED_LOOKUP_RETRY``, and its order says
"banq can't be reached right now" until banq answers.
"""

from __future__ import annotations

import logging
import math

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from banq.exceptions import BanqUnavailable
from banq.lookups import Answer, attempt_lookup
from banq.models import BanqPayment
from banq.overdue import installments_sweep
from banq.services import attempt_next_check
from banq.settings import banq_settings
from orders.models import OrderEvent
from storefront import metrics

logger = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 5  # how often the worker runs the sweep (storefront/worker.py)


def sweep_budget(*, every_seconds: float = SWEEP_EVERY_SECONDS) -> int:
    """banq calls one sweep may make: its share of the per-minute cap, at least one."""
    per_minute = banq_settings().sweep_max_calls_per_minute
    return max(1, math.ceil(per_minute * every_seconds / 60))


def attempts_claim_due(*, limit: int) -> list[BanqPayment]:
    """The attempts due for a check, oldest due first, at most ``limit``; their next check is
    moved on before this returns, so no other sweep takes them."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            BanqPayment.objects.select_for_update(skip_locked=True)
            .filter(next_check_at__lte=now)
            .order_by("next_check_at", "pk")[:limit]
        )
        for attempt in due:
            attempt.check_count += 1
            attempt.next_check_at = attempt_next_check(attempt=attempt, now=now)
            BanqPayment.objects.filter(pk=attempt.pk).update(
                check_count=attempt.check_count, next_check_at=attempt.next_check_at
            )
    return due


@task()
def banq_sweep() -> str:
    """Ask banq about the attempts that are due, then (with the calls left) about overdue
    installments; returns a summary for the task log."""
    checked = errors = busy = 0
    budget = sweep_budget()
    for attempt in attempts_claim_due(limit=budget):
        # A look-up in flight elsewhere (a confirm, a cancel) records banq's word itself.
        lookup = attempt_lookup(attempt=attempt, source=OrderEvent.Source.SWEEP)
        if lookup.answer == Answer.BUSY:
            busy += 1
            continue
        if lookup.answer == Answer.UNREACHABLE:
            errors += 1
            if isinstance(lookup.error, BanqUnavailable):
                # banq is down: the claimed attempts already have their next check.
                logger.warning("Sweep: banq unavailable (%s); trying again later", lookup.error)
                break
            continue
        checked += 1
        outcome = lookup.outcome
        if outcome is not None and outcome.changed:
            metrics.SWEEP_FOUND.labels(verdict=outcome.result.value).inc()
            logger.info(
                "Sweep: order %s %s (banq payment %s)",
                outcome.order.public_id if outcome.order else "-",
                outcome.result.value,
                attempt.banq_payment_id,
            )
    metrics.sweep_counted(checked=checked, errors=errors)
    summary = f"{checked} checked, {errors} error(s)" + (f", {busy} being asked" if busy else "")
    installments = installments_sweep(limit=budget - checked - errors)
    if installments.checked or installments.errors:
        summary += (
            f"; installments: {installments.checked} plan(s) checked, {installments.recorded} "
            f"recorded, {installments.missed} missed, {installments.errors} error(s)"
        )
    return summary
