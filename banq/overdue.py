"""The sweep's check for installments of recurring plans that are overdue (the worker's
``banq_sweep``).

An active subscription whose expected installment is overdue by ``BANQ_INSTALLMENT_GRACE`` after
its due day gets its payment re-fetched from banq (the payment carries its transactions) and
applied through the one locked service (``banq.settlement.payment_apply``); when banq still has
nothing for it, the order is flagged "installment missed" (once per installment and due date) and
the next one is expected. Nothing is expected after the plan's end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from banq.client import BanqClient, get_banq_client
from banq.exceptions import BanqError, BanqUnavailable
from banq.settings import banq_settings
from banq.settlement import payment_apply
from orders.models import OrderEvent, Subscription
from orders.services import subscription_installment_missed, subscriptions_claim_overdue

logger = logging.getLogger(__name__)


def installment_overdue_since(*, due: date, grace: timedelta) -> datetime:
    """When an installment due on ``due`` (a local date) is overdue: the end of its due day plus
    ``grace``."""
    end_of_day = datetime.combine(due + timedelta(days=1), datetime.min.time())
    return timezone.make_aware(end_of_day) + grace


def installment_is_overdue(*, subscription: Subscription, now: datetime, grace: timedelta) -> bool:
    """Whether ``subscription``'s expected installment is overdue at ``now``. Pure."""
    if subscription.state != Subscription.State.ACTIVE or subscription.next_due_date is None:
        return False
    return now >= installment_overdue_since(due=subscription.next_due_date, grace=grace)


def _overdue_cutoff(*, now: datetime, grace: timedelta) -> date:
    """Installments due on or before this local date are overdue at ``now``."""
    return timezone.localdate(now - grace) - timedelta(days=1)


@dataclass(frozen=True)
class SweepResult:
    checked: int = 0
    recorded: int = 0
    missed: int = 0
    errors: int = 0


def installments_sweep(
    *, limit: int, now: datetime | None = None, client: BanqClient | None = None
) -> SweepResult:
    """Ask banq about at most ``limit`` subscriptions whose expected installment is overdue
    (``BANQ_INSTALLMENT_GRACE`` after its due day), record what banq has, and flag the expected
    installment as missed when banq has nothing for it. A subscription banq couldn't be asked
    about is asked again after ``BANQ_SWEEP_EVERY``. ``client``: the banq client to ask (default:
    ``get_banq_client()``)."""
    if limit <= 0:
        return SweepResult()
    config = banq_settings()
    now = now or timezone.now()
    claimed = subscriptions_claim_overdue(
        due_on_or_before=_overdue_cutoff(now=now, grace=config.installment_grace),
        asked_before=now - config.sweep_every,
        limit=limit,
        now=now,
    )
    client = client or get_banq_client()
    checked = recorded = missed = errors = 0
    for subscription in claimed:
        order = subscription.order
        expected = subscription.next_number
        if expected is None or not order.payment_reference:
            continue
        try:
            remote = client.get_payment(order.payment_reference)
        except BanqUnavailable as exc:
            logger.warning("Sweep: banq unavailable (%s); installments later", exc)
            errors += 1
            break
        except BanqError as exc:
            logger.warning("Sweep: order %s installments: %s", order.public_id, exc)
            errors += 1
            continue
        checked += 1
        outcome = payment_apply(remote=remote, source=OrderEvent.Source.SWEEP)
        recorded += len(outcome.installments)
        subscription.refresh_from_db()
        if subscription.next_number == expected and installment_is_overdue(
            subscription=subscription, now=now, grace=config.installment_grace
        ):
            missed += int(
                subscription_installment_missed(
                    subscription=subscription, number=expected, source=OrderEvent.Source.SWEEP
                )
            )
    return SweepResult(checked=checked, recorded=recorded, missed=missed, errors=errors)
