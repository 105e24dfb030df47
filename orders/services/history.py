"""The order's history and flags: append-only, written here and nowhere else.

Every transition, flag, re-check with the payment provider, shopper's confirmation and e-mail is
one ``OrderEvent`` row with its source (webhook, confirm, sweep, reconcile, admin, ...) and, when
a person acted, the actor. Flags accumulate: several can stand at once, and handling one keeps it
on record.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.models import Order, OrderEvent, OrderFlag

logger = logging.getLogger(__name__)

Kind = OrderEvent.Kind
Source = OrderEvent.Source
MESSAGE_MAX = 2000


def _clean(text: str) -> str:
    return str(text).replace("\x00", "")[:MESSAGE_MAX]


def order_history_add(
    *,
    order: Order,
    kind: str,
    source: str,
    actor: str = "",
    from_status: str = "",
    to_status: str = "",
    message: str = "",
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """Append one line to ``order``'s history."""
    line = order_history_line(
        order=order,
        kind=kind,
        source=source,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        message=message,
        data=data,
    )
    line.save(force_insert=True)
    return line


def order_history_line(
    *,
    order: Order,
    kind: str,
    source: str,
    actor: str = "",
    from_status: str = "",
    to_status: str = "",
    message: str = "",
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """One line of ``order``'s history, not saved yet: for a caller that writes it with others
    (``storefront.writes``)."""
    return OrderEvent(
        order=order,
        kind=kind,
        source=source,
        actor=_clean(actor)[:150],
        from_status=from_status,
        to_status=to_status,
        message=_clean(message),
        data=data or {},
    )


def order_flag_raise(
    *,
    order: Order,
    kind: str,
    note: str,
    source: str,
    reference: str = "",
    actor: str = "",
) -> OrderFlag | None:
    """Flag ``order`` for the merchant. The same ``kind`` for the same ``reference`` (a payment
    id) stands once; returns None when it already did. Other flags are never touched."""
    reference = _clean(reference)[:128]
    try:
        with transaction.atomic():
            flag = OrderFlag.objects.create(
                order=order, kind=kind, note=_clean(note), reference=reference
            )
    except IntegrityError:
        return None
    order_history_add(
        order=order,
        kind=Kind.FLAG,
        source=source,
        actor=actor,
        message=f"{flag.get_kind_display()}: {note}",
        data={"flag": kind, "reference": reference},
    )
    logger.warning("Order %s: flagged %s: %s", order.public_id, kind, note)
    return flag


def order_flag_resolve(
    *, order: Order, flag: OrderFlag, actor: str, source: str, message: str = ""
) -> None:
    """Mark one open ``flag`` of ``order`` handled (it stays on record), with its history line."""
    flag.resolved_at = timezone.now()
    flag.resolved_by = (actor or source)[:150]
    flag.save(update_fields=["resolved_at", "resolved_by"])
    order_history_add(
        order=order,
        kind=Kind.FLAG_RESOLVED,
        source=source,
        actor=actor,
        message=message or f"{flag.get_kind_display()} handled.",
        data={"flag": flag.kind, "reference": flag.reference},
    )


def order_flags_resolve(*, order: Order, actor: str, source: str = Source.ADMIN) -> int:
    """Mark every open flag of ``order`` handled by ``actor``; returns how many. They stay on
    record."""
    now = timezone.now()
    flags = list(order.flags.filter(resolved_at__isnull=True))
    for flag in flags:
        flag.resolved_at = now
        flag.resolved_by = actor[:150]
        flag.save(update_fields=["resolved_at", "resolved_by"])
        order_history_add(
            order=order,
            kind=Kind.FLAG_RESOLVED,
            source=source,
            actor=actor,
            message=f"{flag.get_kind_display()} handled.",
            data={"flag": flag.kind, "reference": flag.reference},
        )
    return len(flags)
