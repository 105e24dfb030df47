"""How ``orders`` asks a payment provider about an order, without knowing any provider.

Before an order expires or is cancelled, the store must know that no payment for it completed
(never "nothing was charged" while the provider may hold a completed payment). A provider app
registers a checker at start-up (``banq`` does in its ``AppConfig.ready``); ``orders.services``
calls ``order_payments_check`` and acts on the verdict.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import models

from orders.models import Order


class ProviderVerdict(models.TextChoices):
    CLEAR = "clear", "No completed payment"  # asked (or nothing to ask): safe to expire/cancel
    PAID = "paid", "A payment completed"  # ... and was applied: the order is paid now
    UNKNOWN = "unknown", "Could not ask"  # the provider could not be reached: wait


Checker = Callable[..., ProviderVerdict]
_checkers: list[Checker] = []


def payment_checker_register(checker: Checker) -> None:
    """Register ``checker(*, order, source) -> ProviderVerdict`` (idempotent)."""
    if checker not in _checkers:
        _checkers.append(checker)


def order_payments_check(*, order: Order, source: str) -> ProviderVerdict:
    """Ask every registered provider about ``order``; PAID wins, then UNKNOWN, else CLEAR."""
    verdicts = [checker(order=order, source=source) for checker in _checkers]
    if ProviderVerdict.PAID in verdicts:
        return ProviderVerdict.PAID
    if ProviderVerdict.UNKNOWN in verdicts:
        return ProviderVerdict.UNKNOWN
    return ProviderVerdict.CLEAR
