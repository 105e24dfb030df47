"""Writes of the banq app: the payment link for an order, the sweep's schedule, and the answer to
"may this order expire / be cancelled?" that ``orders`` asks before it does either.

Payment link. Two clicks on "pay" for the same order must not create two banq payments, but the
HTTP call to banq must not run inside a database transaction that holds the order's row lock (that
would block the webhook that marks the order paid, and on SQLite every other writer). So:

1. a short transaction locks the order, checks it is payable, supersedes attempts for another
   total, and returns the open link to reuse, or saves a *placeholder* attempt (no URL yet);
2. a link is reused only while banq's last word on it is fresh (``BANQ_LINK_FRESH_SECONDS``, one
   second); otherwise banq is asked first (outside any transaction, ``banq.lookups``), so a link
   banq failed, cancelled, expired or completed is never handed out again, whatever webhooks were
   lost; when banq can't say, no link is handed out (the shopper is told to try again);
3. banq is called with no transaction open; a second short transaction fills the placeholder and
   moves the order to ``awaiting_payment``.

A concurrent click that finds a fresh placeholder waits outside any transaction for the first
click to finish and then reuses its link. The placeholder lives in the database, so this works
across processes. A placeholder older than the banq timeouts belongs to a crashed worker and is
dropped.

Every hand-out of a link (new or reused) restarts that attempt's sweep schedule
(``attempt_schedule_restart``): the worker asks banq about it at ``BANQ_SWEEP_SCHEDULE`` after
that, then every ``BANQ_SWEEP_EVERY`` until ``BANQ_SWEEP_HORIZON``.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from banq.client import banq_budget, banq_budget_left, get_banq_client
from banq.exceptions import BanqConfigError, BanqError, BanqPayloadError, BanqUnavailable
from banq.lookups import attempt_lookup
from banq.models import BanqPayment
from banq.payloads import jsonable
from banq.settings import banq_settings
from orders.exceptions import InvalidOrderTransition
from orders.locks import order_lock
from orders.models import Order, OrderEvent
from orders.payments import ProviderVerdict
from orders.recurring import ONCE
from orders.services import (
    order_check_payable,
    order_copy_status,
    order_provider_answered,
    order_set_status,
    subscription_start_today,
)
from storefront import writes
from storefront.logs import bind_order
from storefront.writes import Write

logger = logging.getLogger(__name__)

Source = OrderEvent.Source
PLACEHOLDER_POLL = 0.2  # seconds between looks at another click's placeholder
COMMENT_MAX = 120
URL_MAX_LENGTH = 500  # BanqPayment.url
# What banq's answer fills in on the placeholder (one UPDATE of these, not of the whole row).
LINK_FIELDS = (
    "banq_payment_id",
    "url",
    "last_payload",
    "banq_status",
    "checked_at",
    "check_anchor_at",
    "check_count",
    "next_check_at",
    "updated_at",
)


def payment_link_comment(*, order: Order) -> str:
    """What the shopper sees in the banq app: short, no personal data."""
    store = banq_settings().store_name or "our store"
    return f"Order {order.number} at {store}"[:COMMENT_MAX]


# --- the sweep's schedule --------------------------------------------------------------------


def attempt_next_check(*, attempt: BanqPayment, now: datetime | None = None) -> datetime | None:
    """When the sweep asks banq about ``attempt`` next, after ``check_count`` checks; None once it
    is settled, can't be asked about, or is past the horizon."""
    if not attempt.is_checkable:
        return None
    config = banq_settings()
    now = now or timezone.now()
    anchor = attempt.check_anchor_at or attempt.created_at or now
    schedule = config.sweep_schedule
    n = attempt.check_count
    while True:
        if n < len(schedule):
            due = anchor + schedule[n]
        else:
            due = (
                anchor
                + (schedule[-1] if schedule else config.sweep_every)
                + (config.sweep_every * (n - len(schedule) + 1))
            )
        if due > anchor + config.sweep_horizon:
            return None
        if due > now:
            return due
        n += 1  # the worker was away: skip the checks that are already late, but one


def attempt_schedule_restart(*, attempt: BanqPayment, now: datetime | None = None) -> None:
    """The link was handed out (again): the sweep starts over from now. Saves the fields."""
    now = now or timezone.now()
    attempt.check_anchor_at = now
    attempt.check_count = 0
    attempt.next_check_at = attempt_next_check(attempt=attempt, now=now)
    BanqPayment.objects.filter(pk=attempt.pk).update(
        check_anchor_at=now, check_count=0, next_check_at=attempt.next_check_at
    )


# --- the payment link ------------------------------------------------------------------------


class _Busy(Exception):
    """Another request is creating this order's link right now."""


class _Stale(Exception):
    """The reusable link's last word from banq is old: ask banq before handing it out."""

    def __init__(self, attempt: BanqPayment) -> None:
        super().__init__()
        self.attempt = attempt


def _move_to_awaiting(locked: Order, *, also: tuple[Write, ...] = ()) -> None:
    """``locked``: read under its row lock in the caller's transaction. ``also``: the caller's
    writes, sent with the order's (``order_set_status``), or alone when the order stays."""
    if locked.status != Order.Status.AWAITING_PAYMENT:
        order_set_status(
            order=locked,
            status=Order.Status.AWAITING_PAYMENT,
            source=Source.SHOPPER,
            message="Payment link handed out.",
            locked=True,
            also=also,
        )
    else:
        writes.send(*also)


@dataclass(frozen=True)
class Recurrence:
    """What banq's link says about repeating: ``frequency``, ``startDate``, ``endDate``."""

    frequency: str = ONCE
    start_date: date | None = None
    end_date: date | None = None


def payment_recurrence(*, order: Order) -> Recurrence:
    """The link's recurrence, computed from the order only (never from the browser): once for a
    one-time order; for a recurring one its plan's frequency, first payment date and last
    installment's date (None: no end). With ``order`` locked by the caller, a plan not paid yet
    starts today (``subscription_start_today``). Raises ``BanqConfigError`` for a frequency
    ``BANQ_FREQUENCIES`` doesn't allow."""
    subscription = subscription_start_today(order=order)
    if subscription is None:
        return Recurrence()
    frequency = subscription.frequency
    if frequency not in banq_settings().frequencies:
        raise BanqConfigError(
            f"BANQ_FREQUENCIES does not include {frequency!r}: order {order.number}'s plan "
            "can't be paid."
        )
    plan = subscription.plan
    # banq's endDate is the last installment's date (None: no end).
    return Recurrence(frequency, plan.start, plan.last_due)


def _attempt_recurrence(attempt: BanqPayment) -> Recurrence:
    return Recurrence(attempt.frequency, attempt.start_date, attempt.end_date)


def _reserve(*, lookup: dict[str, Any], recheck: bool) -> tuple[Order, BanqPayment, bool]:
    """Step 1. Returns ``(order, attempt, ready)``: the order as read under its lock (``lookup``:
    its ``pk`` or ``public_id``), and a reusable attempt (ready) or our new placeholder.

    Raises ``_Busy`` when another click's placeholder is in flight, ``_Stale`` when the reusable
    link must be re-checked with banq first (only when ``recheck``), ``Order.DoesNotExist``.
    """
    config = banq_settings()
    with transaction.atomic():
        locked = order_lock(**lookup)
        bind_order(locked.number)
        order_check_payable(order=locked)
        recurrence = payment_recurrence(order=locked)
        now = timezone.now()
        reusable = None
        busy = False
        for attempt in BanqPayment.objects.filter(
            order=locked, status=BanqPayment.Status.CREATED, created_by_store=True
        ).order_by("-created_at", "-pk"):
            if attempt.funds != locked.total or _attempt_recurrence(attempt) != recurrence:
                attempt.status = BanqPayment.Status.SUPERSEDED
                attempt.save(update_fields=["status", "updated_at"])
                logger.info(
                    "Order %s: payment attempt %s superseded (total changed)",
                    locked.public_id,
                    attempt.pk,
                )
            elif attempt.url:
                if reusable is None:
                    reusable = attempt
            elif attempt.created_at > now - config.placeholder_window:
                busy = True
            else:  # a placeholder left by a worker that died mid-call
                attempt.delete()
        if reusable is not None:
            fresh = reusable.checked_at is not None and (
                (now - reusable.checked_at).total_seconds() < config.link_fresh_seconds
            )
            if not fresh and recheck and reusable.banq_payment_id:
                raise _Stale(reusable)
            _move_to_awaiting(locked)
            logger.info(
                "Order %s: reusing payment link, banq id %s",
                locked.public_id,
                reusable.banq_payment_id,
            )
            return locked, reusable, True
        if busy:
            raise _Busy
        placeholder = BanqPayment.objects.create(
            order=locked,
            funds=locked.total,
            currency=locked.currency,
            frequency=recurrence.frequency,
            start_date=recurrence.start_date,
            end_date=recurrence.end_date,
            status=BanqPayment.Status.CREATED,
        )
        return locked, placeholder, False


def _drop_placeholder(placeholder: BanqPayment) -> None:
    BanqPayment.objects.filter(pk=placeholder.pk, url="").delete()


def payment_link_generate(*, order: Order) -> BanqPayment:
    """The open banq payment attempt for ``order``: reused while banq still holds it open for the
    same total and recurrence, else created at banq. The order moves to ``awaiting_payment``.

    Amount, comment, order code and recurrence (``payment_recurrence``: frequency, start and end
    dates of a recurring plan) come from the order only. Raises ``OrderNotPayable`` (message
    for the shopper) and the ``BanqError`` family (banq refused or unreachable; nothing saved).
    Safe to call concurrently for the same order: one banq payment is created. Runs while a
    shopper waits: banq gets no retries and ``BANQ_REQUEST_BUDGET`` seconds in all.
    """
    locked, attempt = _link(lookup={"pk": order.pk})
    order_copy_status(target=order, source=locked)
    return attempt


def payment_link_generate_by_public_id(*, public_id: uuid.UUID) -> tuple[Order, BanqPayment]:
    """``payment_link_generate`` for the order with ``public_id``, which is read only under its
    lock: for a caller that has checked access by the id alone (the shopper's session owns it).
    Returns the order as last read and the attempt. Raises ``Order.DoesNotExist`` besides."""
    return _link(lookup={"public_id": public_id})


def _link(*, lookup: dict[str, Any]) -> tuple[Order, BanqPayment]:
    config = banq_settings()
    with banq_budget(config.request_budget):
        deadline = time.monotonic() + config.placeholder_window.total_seconds()
        recheck = True
        while True:
            try:
                order, attempt, ready = _reserve(lookup=lookup, recheck=recheck)
            except _Busy:
                if time.monotonic() > deadline:
                    raise BanqError(
                        "Another request is still creating this order's link."
                    ) from None
                time.sleep(PLACEHOLDER_POLL)
                continue
            except _Stale as stale:
                # Ask banq (outside any transaction) whether the link is still open, then look
                # again: a failed link is no longer reusable, a completed one paid the order.
                recheck = False
                asked = attempt_lookup(
                    attempt=stale.attempt,
                    source=Source.SHOPPER,
                    in_request=True,
                    wait=banq_budget_left(),
                )
                if not asked.answered:
                    raise BanqUnavailable(
                        "banq could not say whether this order's open link is still good."
                    ) from None
                continue
            if ready:
                attempt_schedule_restart(attempt=attempt)
                return order, attempt
            break
        return order, _create_at_banq(order=order, placeholder=attempt)


def _create_at_banq(*, order: Order, placeholder: BanqPayment) -> BanqPayment:
    try:
        link = get_banq_client(in_request=True).create_payment_link(
            order_code=order.number,
            funds=placeholder.funds,
            comment=payment_link_comment(order=order),
            frequency=placeholder.frequency,
            start_date=placeholder.start_date,
            end_date=placeholder.end_date,
        )
        if len(link.url) > URL_MAX_LENGTH:
            raise BanqPayloadError("banq's payment link is longer than we can store.")
        if link.payment_id and len(link.payment_id) > 64:
            raise BanqPayloadError("banq's payment id is longer than we can store.")
    except BaseException:
        _drop_placeholder(placeholder)
        raise

    now = timezone.now()
    placeholder.banq_payment_id = link.payment_id or ""
    placeholder.url = link.url
    placeholder.last_payload = jsonable(link.raw) if link.raw not in (None, "") else None
    placeholder.banq_status = "created"
    placeholder.checked_at = now
    placeholder.check_anchor_at = now
    placeholder.check_count = 0
    placeholder.next_check_at = attempt_next_check(attempt=placeholder, now=now)
    placeholder.updated_at = now
    try:
        with transaction.atomic():
            locked = order_lock(pk=order.pk)
            order_provider_answered(order=locked)  # banq answered: reachable again
            filled = {name: getattr(placeholder, name) for name in LINK_FIELDS}
            attempt_write = writes.update(BanqPayment.objects.filter(pk=placeholder.pk), **filled)
            # The order's move and the attempt's link: one statement on PostgreSQL.
            _move_to_awaiting(locked, also=(attempt_write,))
            if not attempt_write.rows:
                # Dropped meanwhile as a dead click's placeholder: keep the record of banq's link.
                placeholder.save(force_insert=True)
    except InvalidOrderTransition:
        # The order was paid, cancelled or expired while banq answered: keep the record of the
        # link banq made (the sweep still watches it), but never hand it out.
        placeholder.status = BanqPayment.Status.SUPERSEDED
        placeholder.save()
        order.refresh_from_db()
        order_check_payable(order=order)
        raise
    logger.info(
        "Order %s: payment link created, banq id %s", order.public_id, link.payment_id or "-"
    )
    order_copy_status(target=order, source=locked)
    return placeholder


# --- before an order expires or is cancelled -------------------------------------------------

# Sources that run while someone waits (a request): short timeouts, no retries, the request budget.
IN_REQUEST_SOURCES = (Source.PAGE, Source.SHOPPER, Source.CONFIRM, Source.ADMIN)


def order_payments_check_with_banq(
    *, order: Order, source: str, since: datetime
) -> ProviderVerdict:
    """Registered with ``orders.payments`` (its ``ask``): asks banq about every attempt of
    ``order`` that banq could still complete, and applies what it says. ``PAID`` when a payment
    completed (the order is paid now), ``UNKNOWN`` when banq could not be asked or a look-up in
    flight did not end in time, else ``CLEAR``.

    Only answers from look-ups that began at or after ``since`` count (``banq.lookups``). The
    order page (``Source.PAGE``) neither waits for a look-up in flight nor asks again within
    ``BANQ_RECHECK_MIN_INTERVAL``: it answers ``UNKNOWN`` at once and the worker's expiry decides.
    Attempts without banq's payment id can't be asked about (the webhook, which names the
    payment, still settles them).
    """
    attempts = list(BanqPayment.objects.filter(order=order).checkable())
    if not attempts:
        return ProviderVerdict.CLEAR
    config = banq_settings()
    in_request = source in IN_REQUEST_SOURCES
    page = source == Source.PAGE
    budget = config.request_budget if in_request else config.read_timeout * 3
    with banq_budget(budget):
        for attempt in attempts:
            lookup = attempt_lookup(
                attempt=attempt,
                source=source,
                in_request=in_request,
                since=since,
                wait=0.0 if page else banq_budget_left(),
                min_interval=config.recheck_min_interval if page else 0.0,
            )
            if lookup.paid:
                return ProviderVerdict.PAID
            if not lookup.answered:
                return ProviderVerdict.UNKNOWN
    return ProviderVerdict.CLEAR


def order_payments_answered_by_banq(*, order: Order, since: datetime) -> bool:
    """Registered with ``orders.payments`` (its ``answered``), called under the order's row lock:
    every attempt banq could still complete has banq's word from a look-up that began at or after
    ``since`` (an attempt created, or given its banq id, after that has not been asked about)."""
    unanswered = (
        Q(check_claimed_at__isnull=True)
        | Q(check_claimed_at__lt=since)
        | Q(checked_at__isnull=True)
        | Q(checked_at__lt=F("check_claimed_at"))
    )
    return not BanqPayment.objects.filter(order=order).checkable().filter(unanswered).exists()
