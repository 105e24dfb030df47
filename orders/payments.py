"""How ``orders`` asks a payment provider about an order, without knowing any provider.

Before an order expires or is cancelled, the store must know that no payment for it completed
(never "nothing was charged" while the provider may hold a completed payment). A provider app
registers a checker at start-up (``banq`` does in its ``AppConfig.ready``); ``orders.services``
asks it and acts on the verdict. A checker has two parts:

- ``ask(*, order, source, since) -> ProviderVerdict``: asks the provider now (over the network,
  with no lock held) about every payment of ``order`` it could still complete, and applies what
  it says. An answer counts only if it comes from a look-up that began at or after ``since``
  (a look-up in flight that began earlier is waited for, then asked again). ``UNKNOWN`` when the
  provider could not be asked: down, erroring, slow, or a look-up in flight that did not end in
  time. Never ``CLEAR`` on a guess.
- ``answered(*, order, since) -> bool``: a read of the database only, under the order's row lock:
  every payment the provider could still complete has its answer from a look-up that began at or
  after ``since``, and that answer was "not completed". A payment that appeared (or got the
  provider's id) after the ask is unanswered, so it can't slip through between the ask and the
  lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import models

from orders.models import Order, Subscription


class ProviderVerdict(models.TextChoices):
    CLEAR = "clear", "No completed payment"  # the provider said so (or there is nothing to ask)
    PAID = "paid", "A payment completed"  # ... and was applied: the order is paid now
    UNKNOWN = "unknown", "Could not ask"  # down, erroring, slow or busy: wait, change nothing


@dataclass(frozen=True)
class Checker:
    ask: Callable[..., ProviderVerdict]
    answered: Callable[..., bool]


_checkers: list[Checker] = []


def payment_checker_register(
    *, ask: Callable[..., ProviderVerdict], answered: Callable[..., bool]
) -> None:
    """Register a provider's ``ask`` and ``answered`` (see the module doc; idempotent)."""
    checker = Checker(ask=ask, answered=answered)
    if checker not in _checkers:
        _checkers.append(checker)


def order_payments_check(*, order: Order, source: str, since: datetime) -> ProviderVerdict:
    """Ask every registered provider about ``order``; PAID wins, then UNKNOWN, else CLEAR."""
    verdicts = [checker.ask(order=order, source=source, since=since) for checker in _checkers]
    if ProviderVerdict.PAID in verdicts:
        return ProviderVerdict.PAID
    if ProviderVerdict.UNKNOWN in verdicts:
        return ProviderVerdict.UNKNOWN
    return ProviderVerdict.CLEAR


def order_payments_answered(*, order: Order, since: datetime) -> bool:
    """Under ``order``'s row lock: has every provider's "not completed" answer for every payment
    it could still complete come from a look-up that began at or after ``since``?"""
    return all(checker.answered(order=order, since=since) for checker in _checkers)


# --- the provider's part in refunds and cancelled plans ---------------------------------------


@dataclass(frozen=True)
class RefundRecorded:
    """What the provider did with a refund the merchant records: ``reference``, its id for the
    refund when it made one (empty when it has no refund call and the merchant refunded in its
    dashboard), and ``note``, a line for the order's history."""

    reference: str = ""
    note: str = ""


@dataclass(frozen=True)
class PlanStopped:
    """The provider's answer to "stop charging this plan": ``stopped`` only when the provider
    confirmed it; otherwise ``message`` says why, in words for the merchant (the store then asks
    the merchant to stop it in the provider's dashboard)."""

    stopped: bool
    message: str


class PaymentProvider(Protocol):
    """The provider's side of what ``orders`` does after a payment (the "ask a provider" checker
    above is the side before it). ``name`` is the provider's name as people read it."""

    name: str

    def record_refund(self, *, order: Order, amount: Decimal, reason: str) -> RefundRecorded:
        """Called with ``order``'s row locked, once the store has checked the amount: make the
        refund, or say that it was made elsewhere. Raises ``orders.exceptions.RefundError`` (a
        message for the merchant) to refuse it: nothing is recorded then."""
        ...

    def stop_plan(self, *, subscription: Subscription) -> PlanStopped:
        """Ask the provider to stop charging ``subscription`` (cancelled already). Called with no
        lock held (it may wait on the network); never raises for the provider's failures."""
        ...


_providers: list[PaymentProvider] = []


def payment_provider_register(provider: PaymentProvider) -> None:
    """Register a provider (at start-up, from its app's ``ready``; idempotent per name)."""
    _providers[:] = [p for p in _providers if p.name != provider.name]
    _providers.append(provider)


def provider_for(order: Order) -> PaymentProvider:
    """The provider that took ``order``'s payments. Raises ``ImproperlyConfigured`` when none is
    registered. One provider per store today: a second one would pick by the order's payment."""
    if not _providers:
        raise ImproperlyConfigured("No payment provider is registered.")
    return _providers[0]
