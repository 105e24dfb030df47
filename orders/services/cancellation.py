"""Cancelling a recurring plan: by the shopper on the order page, or by the merchant in the admin.

1. ``subscription_cancel``: with the order's row locked, the plan becomes ``cancelled`` (nothing is
   expected any more), one history line, one e-mail to the shopper (the outbox), the push.
2. Then, with no lock held, the payment provider is asked to stop charging
   (``orders.payments.provider_for(order).stop_plan``): ``subscription_stop_at_provider`` records
   its answer. Stopped: a history line. Not stopped (the provider can't, or could not be asked):
   the order is flagged "stop it in the provider's dashboard" until the merchant confirms it
   (``subscription_stop_confirm``, an admin action). A crash between 1 and 2 leaves the plan
   cancelled with its stop "requested": the admin lists it, and cancelling again asks again.

The order keeps its status (its payments were received). A charge the provider reports after the
cancellation is recorded, flagged for a refund and told to the shopper by the provider's
installment evaluator, which reads the plan's state.

Not re-exported by ``orders.services``: import from here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from orders import notifications
from orders.exceptions import PlanCancelError
from orders.locks import order_lock
from orders.models import Order, OrderEvent, OrderFlag, Subscription
from orders.outbox import outbox_enqueue
from orders.payments import PlanStopped, provider_for
from orders.plans import day_words
from orders.services.history import order_flag_raise, order_flag_resolve, order_history_add
from orders.tasks import order_email_send

logger = logging.getLogger(__name__)

State = Subscription.State
Stop = Subscription.Stop
SHOPPER = "the shopper"


@dataclass(frozen=True)
class PlanCancelled:
    """What cancelling did: the fresh ``subscription`` and the provider's answer to the stop."""

    subscription: Subscription
    stop: PlanStopped


def _push(order: Order) -> None:
    order.save(update_fields=["updated_at"])
    transaction.on_commit(lambda: notifications.push_status(order=order))


def _stop_reference(subscription: Subscription) -> str:
    return f"plan-{subscription.pk}"


def subscription_cancel(*, order: Order, source: str, actor: str = "") -> PlanCancelled:
    """Cancel ``order``'s plan, then ask the provider to stop charging it. Raises
    ``PlanCancelError`` (a message for the shopper or merchant; nothing changed) when the order
    has no plan, or its plan has not started (cancel the order instead) or has ended. Cancelling
    a cancelled plan whose stop is not confirmed asks the provider again (no second e-mail)."""
    who = actor or SHOPPER
    with transaction.atomic():
        locked = order_lock(pk=order.pk)
        subscription = Subscription.objects.filter(order_id=locked.pk).first()
        if subscription is None:
            raise PlanCancelError("This order has no plan to cancel.")
        if subscription.state == State.PENDING:
            raise PlanCancelError(
                "The plan has not started: nothing was paid yet. Cancel the order instead."
            )
        if subscription.state == State.ENDED:
            raise PlanCancelError("This plan has ended: no more payments are due.")
        if subscription.state == State.CANCELLED and subscription.provider_stop in (
            Stop.STOPPED,
            Stop.CONFIRMED,
        ):
            raise PlanCancelError("This plan is already cancelled and stopped.")
        if subscription.state == State.ACTIVE:
            _cancel(locked, subscription, source=source, actor=actor, who=who)
    stop = subscription_stop_at_provider(subscription=subscription, source=source, actor=actor)
    subscription.refresh_from_db()
    return PlanCancelled(subscription=subscription, stop=stop)


def _cancel(order: Order, subscription: Subscription, *, source: str, actor: str, who: str) -> None:
    now = timezone.now()
    subscription.state = State.CANCELLED
    subscription.cancelled_at = now
    subscription.cancelled_by = who[:150]
    subscription.next_number = None
    subscription.next_due_date = None
    subscription.provider_stop = Stop.REQUESTED
    subscription.save(
        update_fields=[
            "state",
            "cancelled_at",
            "cancelled_by",
            "next_number",
            "next_due_date",
            "provider_stop",
            "updated_at",
        ]
    )
    provider = provider_for(order).label
    order_history_add(
        order=order,
        kind=OrderEvent.Kind.PLAN,
        source=source,
        actor=actor,
        message=f"Plan cancelled by {who} on {day_words(now)}: no further payments are due. "
        f"Asking {provider} to stop charging it.",
        data={"plan": "cancelled", "subscription": subscription.pk},
    )
    outbox_enqueue(order_email_send, order.pk, notifications.EMAIL_PLAN_CANCELLED)
    _push(order)
    logger.info("Order %s: plan cancelled by %s (%s)", order.public_id, who, source)


def subscription_stop_at_provider(
    *, subscription: Subscription, source: str, actor: str = ""
) -> PlanStopped:
    """Ask the provider to stop charging the cancelled ``subscription`` (no lock held while it
    answers), then record the answer under the order's lock: stopped, or the order flagged for
    the merchant to stop it in the provider's dashboard. Returns the provider's answer."""
    answer = provider_for(subscription.order).stop_plan(subscription=subscription)
    with transaction.atomic():
        order = order_lock(pk=subscription.order_id)
        fresh = Subscription.objects.get(pk=subscription.pk)
        if fresh.provider_stop not in (Stop.REQUESTED, Stop.MANUAL):
            return answer  # another run recorded it, or the merchant confirmed meanwhile
        if answer.stopped:
            fresh.provider_stop = Stop.STOPPED
            fresh.provider_stopped_at = timezone.now()
            fresh.save(update_fields=["provider_stop", "provider_stopped_at", "updated_at"])
            order_history_add(
                order=order,
                kind=OrderEvent.Kind.PLAN,
                source=source,
                actor=actor,
                message=answer.message,
                data={"plan": "stopped", "subscription": fresh.pk},
            )
            _resolve_stop_flags(order, fresh, actor=actor, source=source)
        else:
            fresh.provider_stop = Stop.MANUAL
            fresh.save(update_fields=["provider_stop", "updated_at"])
            order_flag_raise(
                order=order,
                kind=OrderFlag.Kind.PLAN_STOP_NEEDED,
                note=answer.message,
                reference=_stop_reference(fresh),
                source=source,
                actor=actor,
            )
        _push(order)
    return answer


def subscription_stop_confirm(
    *, order: Order, actor: str, source: str = OrderEvent.Source.ADMIN
) -> bool:
    """The merchant confirms the cancelled plan is stopped in the provider's dashboard: the flag
    is handled, with a history line. False (nothing written) when there is nothing to confirm."""
    with transaction.atomic():
        locked = order_lock(pk=order.pk)
        subscription = Subscription.objects.filter(order_id=locked.pk).first()
        if (
            subscription is None
            or subscription.state != State.CANCELLED
            or subscription.provider_stop not in (Stop.REQUESTED, Stop.MANUAL)
        ):
            return False
        subscription.provider_stop = Stop.CONFIRMED
        subscription.provider_stopped_at = timezone.now()
        subscription.save(update_fields=["provider_stop", "provider_stopped_at", "updated_at"])
        order_history_add(
            order=locked,
            kind=OrderEvent.Kind.PLAN,
            source=source,
            actor=actor,
            message=f"{actor or 'The merchant'} confirmed the plan is stopped in "
            f"{provider_for(locked).label}'s dashboard.",
            data={"plan": "confirmed", "subscription": subscription.pk},
        )
        _resolve_stop_flags(locked, subscription, actor=actor, source=source)
        _push(locked)
    return True


def _resolve_stop_flags(
    order: Order, subscription: Subscription, *, actor: str, source: str
) -> None:
    flags = OrderFlag.objects.filter(
        order=order,
        kind=OrderFlag.Kind.PLAN_STOP_NEEDED,
        reference=_stop_reference(subscription),
        resolved_at__isnull=True,
    )
    for flag in flags:
        order_flag_resolve(order=order, flag=flag, actor=actor, source=source)
