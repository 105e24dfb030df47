"""The payment-provider seam: how ``orders`` works with a payment provider without knowing any.

``orders`` owns the order, its status machine and its page; a provider app owns its payment
attempts, its endpoints, its webhooks and its part of the order page. The provider implements
``PaymentProvider`` and registers itself at start-up, in its ``AppConfig.ready``
(``payment_provider_register(YourProvider())``); ``orders`` then reaches it only through
``provider_for(order)`` and the calls below, never by import (``lint-imports`` holds that).

Who calls what:

- the order page (``orders.views.OrderDetailView``) asks ``provider_for(order)`` to render its pay
  block and its script (``render_pay_block``, ``render_pay_script``) and takes the URLs the page's
  script calls from ``page_urls``; the provider's ``label`` is the name shoppers read;
- the provider's own endpoint creates the payment link (``create_link``) when the page asks;
- before an order expires or is cancelled, ``orders.services`` asks every provider ``check``
  (over the network, no lock held) and then ``answered`` (under the order's row lock), through
  ``order_payments_check`` and ``order_payments_answered``:

  - ``check(*, order, source, since) -> ProviderVerdict``: asks the provider now about every
    payment of ``order`` it could still complete, and applies what it says. An answer counts only
    if it comes from a look-up that began at or after ``since``. ``UNKNOWN`` when the provider
    could not be asked: down, erroring, slow, or a look-up in flight that did not end in time.
    Never ``CLEAR`` on a guess.
  - ``answered(*, order, since) -> bool``: a read of the database only: every payment the provider
    could still complete has its answer from a look-up that began at or after ``since``, and that
    answer was "not completed". A payment that appeared after the ask is unanswered, so it can't
    slip through between the ask and the lock.

- ``verify_charge(*, order, charge)``: whether a charge the provider reports (a one-time payment
  or an installment, as a ``Charge``) may pay ``order``: order code, exact amount, currency and
  destination; ``None`` when it checks out, else the ``ChargeProblem``;
- ``record_refund(*, order, amount, reason) -> RefundRecorded`` and ``stop_plan(*, subscription)
  -> PlanStopped``: the merchant's refunds and plan cancellations. A provider that can't refund or
  stop a plan through its API says so in the answer (no refund ``reference``; ``stopped=False``
  with the reason) and the merchant acts in the provider's own dashboard.

A store has one provider for new orders (``settings.PAYMENT_PROVIDER``, default the first
registered); ``order_payments_check`` still asks every registered provider, so a payment made
through any of them is never missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

if TYPE_CHECKING:
    from django.http import HttpRequest

    from orders.models import Order, Subscription


class ProviderVerdict(models.TextChoices):
    CLEAR = "clear", "No completed payment"  # the provider said so (or there is nothing to ask)
    PAID = "paid", "A payment completed"  # ... and was applied: the order is paid now
    UNKNOWN = "unknown", "Could not ask"  # down, erroring, slow or busy: wait, change nothing


@dataclass(frozen=True)
class PaymentLink:
    """What ``create_link`` hands the page: where the shopper pays, and the provider's id for it
    (blank when the provider gave none yet)."""

    url: str
    reference: str = ""


@dataclass(frozen=True)
class PageUrls:
    """The URLs the order page's script calls: ``link`` (POST ``{"orderId"}``, answers
    ``{"data": {"url"}}``) and ``confirm`` (POST, ``__order__`` stands for the order's id)."""

    link: str
    confirm: str


@dataclass(frozen=True)
class Charge:
    """A charge as the provider reports it, in the provider's own words made plain: a one-time
    payment or one installment of a plan. ``amount`` is None when the provider gave none;
    ``expected_amount`` is what it must be (the order's total, or the plan's installment)."""

    reference: str
    order_code: str | None
    amount: Decimal | None
    currency: str | None
    destination: str | None
    expected_amount: Decimal | None = None
    completed: bool = True
    what: str = "payment"  # how a message names it: "payment", "transaction"


@dataclass(frozen=True)
class ChargeProblem:
    """Why a charge may not pay the order: ``flag`` is the ``OrderFlag.Kind`` to raise and
    ``message`` says it for the merchant."""

    flag: str
    message: str


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


@runtime_checkable
class PaymentProvider(Protocol):
    """What a payment provider implements (see the module doc for who calls what)."""

    name: str  # the registry key, lower case: ``settings.PAYMENT_PROVIDER`` names it
    label: str  # the name shoppers and merchants read

    def create_link(self, *, order: Order) -> PaymentLink: ...

    def check(self, *, order: Order, source: str, since: datetime) -> ProviderVerdict: ...

    def answered(self, *, order: Order, since: datetime) -> bool: ...

    def verify_charge(self, *, order: Order, charge: Charge) -> ChargeProblem | None: ...

    def page_urls(self, *, order: Order) -> PageUrls: ...

    def render_pay_block(self, *, request: HttpRequest, order: Order, payable: bool) -> str: ...

    def render_pay_script(self, *, request: HttpRequest, order: Order, payable: bool) -> str: ...

    def record_refund(self, *, order: Order, amount: Decimal, reason: str) -> RefundRecorded:
        """Called with ``order``'s row locked, once the store has checked the amount: make the
        refund, or say that it was made elsewhere. Raises ``orders.exceptions.RefundError`` (a
        message for the merchant) to refuse it: nothing is recorded then."""
        ...

    def stop_plan(self, *, subscription: Subscription) -> PlanStopped:
        """Ask the provider to stop charging ``subscription`` (cancelled already). Called with no
        lock held (it may wait on the network); never raises for the provider's failures."""
        ...


_providers: dict[str, PaymentProvider] = {}


def payment_provider_register(provider: PaymentProvider) -> None:
    """Register ``provider`` under its ``name`` (idempotent: a second registration under the same
    name replaces the first). Called from the provider's ``AppConfig.ready``."""
    if not isinstance(provider, PaymentProvider):
        raise TypeError(f"{provider!r} does not implement orders.payments.PaymentProvider")
    _providers[provider.name] = provider


def payment_provider_unregister(name: str) -> None:
    """Forget the provider ``name`` (tests that register one of their own)."""
    _providers.pop(name, None)


def payment_providers() -> list[PaymentProvider]:
    return list(_providers.values())


def provider_default() -> PaymentProvider:
    """The store's provider for new orders: ``settings.PAYMENT_PROVIDER``, else the first
    registered. Raises ``ImproperlyConfigured`` when there is none."""
    name = getattr(settings, "PAYMENT_PROVIDER", "") or ""
    if name:
        try:
            return _providers[name]
        except KeyError:
            raise ImproperlyConfigured(
                f"PAYMENT_PROVIDER is {name!r}, which no installed app registers"
            ) from None
    if not _providers:
        raise ImproperlyConfigured("No payment provider is registered (INSTALLED_APPS)")
    return next(iter(_providers.values()))


def provider_for(order: Order) -> PaymentProvider:
    """The provider ``order`` pays through (with one provider per store: the store's)."""
    return provider_default()


def provider_label() -> str:
    """The provider's name as shoppers read it, for texts that name no particular order."""
    return provider_default().label


def order_payments_check(*, order: Order, source: str, since: datetime) -> ProviderVerdict:
    """Ask every registered provider about ``order``; PAID wins, then UNKNOWN, else CLEAR."""
    verdicts = [p.check(order=order, source=source, since=since) for p in _providers.values()]
    if ProviderVerdict.PAID in verdicts:
        return ProviderVerdict.PAID
    if ProviderVerdict.UNKNOWN in verdicts:
        return ProviderVerdict.UNKNOWN
    return ProviderVerdict.CLEAR


def order_payments_answered(*, order: Order, since: datetime) -> bool:
    """Under ``order``'s row lock: has every provider's "not completed" answer for every payment
    it could still complete come from a look-up that began at or after ``since``?"""
    return all(p.answered(order=order, since=since) for p in _providers.values())
