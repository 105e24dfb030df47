"""Asking banq about one payment attempt: three possible answers, and never a guess.

``attempt_lookup`` is how everything that acts on banq's word about an attempt asks: the checker
that runs before an order expires or is cancelled (``banq.services``), the shopper's confirm, the
reuse of a payment link, the sweep, ``banq_reconcile`` and the admin's re-check. It answers

- ``ANSWERED``: banq's word is recorded and applied (``banq.settlement.payment_apply``: the order
  may be paid or failed now), by this call or by the look-up in flight that it waited for;
- ``UNREACHABLE``: banq could not be asked (down, erroring, too slow, our credentials refused).
  The order says so (``orders.services.order_provider_unreachable``) until banq's next answer,
  and the sweep asks again within ``FAILED_LOOKUP_RETRY``;
- ``BUSY``: another caller's look-up was in flight and did not end within ``wait`` seconds.

Neither of the last two ever means "not paid".

At most one look-up per attempt runs at a time, across processes: a caller claims it with a
conditional update of ``check_claimed_at`` (when the latest look-up began). The look-up is in
flight until banq's word is recorded (``checked_at``) or it fails (``check_failed_at``); a claim
older than ``BanqSettings.lookup_window`` belongs to a process that died and is taken over. A
caller that loses the claim waits for the look-up in flight and shares its answer when that
look-up began at or after the caller's ``since``; an earlier one may have missed a payment made
since, so the caller then asks banq itself. A failed look-up ends its claim: the next caller asks
banq itself. ``min_interval`` (the shopper's confirm, the order page): no new look-up within that
many seconds of the last one; its answer, or its failure, stands.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from banq.exceptions import BanqError, BanqRequestError
from banq.models import BanqPayment
from banq.outcomes import PAID_OUTCOMES
from banq.settings import banq_settings
from banq.settlement import PaymentOutcome, payment_recheck
from orders.services import order_provider_unreachable

logger = logging.getLogger(__name__)

POLL = 0.1  # seconds between looks at a look-up in flight
# The sweep asks again this soon about an attempt whose look-up failed, whatever its schedule.
FAILED_LOOKUP_RETRY = timedelta(seconds=30)


class Answer(models.TextChoices):
    ANSWERED = "answered", "banq answered"
    UNREACHABLE = "unreachable", "banq could not be asked"
    BUSY = "busy", "Another look-up is still waiting for banq"


@dataclass(frozen=True)
class Lookup:
    """What ``attempt_lookup`` found: the answer, the attempt as recorded after it, and, when this
    call asked banq itself, the settlement's outcome (or the error)."""

    answer: Answer
    attempt: BanqPayment
    outcome: PaymentOutcome | None = None
    error: BanqError | None = None

    @property
    def answered(self) -> bool:
        return self.answer == Answer.ANSWERED

    @property
    def paid(self) -> bool:
        """banq's answer says the order has its money (this payment completed)."""
        if self.outcome is not None:
            return self.outcome.result in PAID_OUTCOMES
        return self.answered and self.attempt.status == BanqPayment.Status.COMPLETED


def attempt_claim_check(*, attempt: BanqPayment, min_interval: float = 0.0) -> bool:
    """Claim the right to ask banq about ``attempt`` now, across processes (a conditional update
    of ``check_claimed_at``). True when no look-up is in flight and the last one began at least
    ``min_interval`` seconds ago, or when the one in flight began more than ``lookup_window``
    seconds ago (its process died)."""
    now = timezone.now()
    window = timedelta(seconds=banq_settings().lookup_window)
    ended = Q(checked_at__gte=F("check_claimed_at")) | Q(check_failed_at__gte=F("check_claimed_at"))
    claimable = (
        Q(check_claimed_at__isnull=True)
        | Q(check_claimed_at__lt=now - window)
        | (Q(check_claimed_at__lte=now - timedelta(seconds=min_interval)) & ended)
    )
    claimed = (
        BanqPayment.objects.filter(pk=attempt.pk).filter(claimable).update(check_claimed_at=now)
    )
    if claimed:
        attempt.check_claimed_at = now
    return bool(claimed)


def attempt_lookup(
    *,
    attempt: BanqPayment,
    source: str,
    in_request: bool = False,
    since: datetime | None = None,
    wait: float = 0.0,
    min_interval: float = 0.0,
) -> Lookup:
    """Ask banq about ``attempt`` and apply its answer, or share the answer of the look-up in
    flight (see the module doc). ``since`` (default: now): only an answer from a look-up that
    began then or later counts; ``wait``: seconds to wait at most for a look-up in flight;
    ``in_request``: no retries, short timeouts (``banq.client``). Raises nothing of banq's."""
    since = since or timezone.now()
    accept_from = since - timedelta(seconds=min_interval)
    deadline = time.monotonic() + max(0.0, wait)
    if attempt_claim_check(attempt=attempt, min_interval=min_interval):
        return _ask(attempt=attempt, source=source, in_request=in_request)
    while True:
        row = BanqPayment.objects.get(pk=attempt.pk)
        began = row.check_claimed_at
        if began is not None and began >= accept_from:
            if row.checked_at is not None and row.checked_at >= began:
                return Lookup(Answer.ANSWERED, row)  # a look-up recent enough ended: share it
            if min_interval and row.check_failed_at is not None and row.check_failed_at >= began:
                return Lookup(Answer.UNREACHABLE, row)  # it failed moments ago: that stands
        if attempt_claim_check(attempt=attempt, min_interval=min_interval):
            return _ask(attempt=attempt, source=source, in_request=in_request)
        if time.monotonic() >= deadline:
            return Lookup(Answer.BUSY, row)
        time.sleep(POLL)


def _ask(*, attempt: BanqPayment, source: str, in_request: bool) -> Lookup:
    began = attempt.check_claimed_at or timezone.now()  # set by the claim
    try:
        outcome = payment_recheck(attempt=attempt, source=source, in_request=in_request)
    except BanqError as exc:
        _failed(attempt=attempt, source=source, exc=exc)
        return Lookup(Answer.UNREACHABLE, BanqPayment.objects.get(pk=attempt.pk), error=exc)
    except BaseException:
        with contextlib.suppress(Exception):  # end the claim; the error is what matters
            BanqPayment.objects.filter(pk=attempt.pk).update(check_failed_at=timezone.now())
        raise
    recorded = outcome.attempt
    if (
        recorded is None
        or recorded.pk != attempt.pk
        or recorded.checked_at is None
        or recorded.checked_at < began
    ):
        # banq's word was not written (a redelivery of what we knew): end the claim all the same.
        BanqPayment.objects.filter(pk=attempt.pk).filter(
            Q(checked_at__isnull=True) | Q(checked_at__lt=began)
        ).update(checked_at=timezone.now())
        recorded = BanqPayment.objects.get(pk=attempt.pk)
    return Lookup(Answer.ANSWERED, recorded, outcome=outcome)


def _failed(*, attempt: BanqPayment, source: str, exc: BanqError) -> None:
    """Record the failed look-up (ending its claim), have the sweep ask again soon, and, unless
    banq answered and refused this one look-up, mark the order unreachable."""
    now = timezone.now()
    retry = now + FAILED_LOOKUP_RETRY
    BanqPayment.objects.filter(pk=attempt.pk).update(check_failed_at=now)
    BanqPayment.objects.filter(pk=attempt.pk, status__in=BanqPayment.OPEN_STATUSES).filter(
        Q(next_check_at__isnull=True) | Q(next_check_at__gt=retry)
    ).update(next_check_at=retry)
    logger.warning(
        "Order %s: banq could not be asked about payment %s: %s",
        attempt.order.public_id,
        attempt.banq_payment_id,
        exc,
        extra={"order": attempt.order.number},
    )
    if not isinstance(exc, BanqRequestError):
        order_provider_unreachable(
            order=attempt.order,
            source=source,
            message=f"banq can't be reached right now ({exc}): nothing is cancelled or expired "
            "until it answers.",
        )
