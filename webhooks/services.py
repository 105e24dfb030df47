"""Writes of the webhooks app: record a delivery, process it, count refused calls.

The flow (docs/development.md, "A webhook"): the view stores the raw event first
(``webhook_event_record``, its own committed transaction), then calls ``webhook_event_process``,
which parses the stored body, re-fetches the payment from banq (the body is only a hint) and hands
banq's answer to ``banq.settlement.payment_apply``. The event's new state is saved in the same
transaction as the payment's effects, so a crash leaves it retryable and a success is never
half-recorded. ``manage.py process_webhooks`` calls the same function for stored events.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from banq.client import BanqClient, get_banq_client
from banq.exceptions import BanqConfigError, BanqError, BanqNotFound, BanqUnavailable
from banq.installments import installment_results
from banq.models import BanqPayment
from banq.payloads import storable_text
from banq.settlement import PaymentOutcome, payment_apply
from orders.locks import row_lock
from orders.models import Order, OrderEvent, OrderFlag
from orders.services import order_flag_raise
from webhooks.exceptions import InvalidWebhookPayload
from webhooks.models import WebhookEvent, WebhookRefusal
from webhooks.parsers import parse_webhook_event

if TYPE_CHECKING:
    from banq.payloads import RemotePayment, RemoteTransaction, WebhookNotification

logger = logging.getLogger(__name__)

State = WebhookEvent.State

ACTIONS = ("completed", "failed")
RESOURCE_TYPES = ("payment", "transaction")
KEEP_HEADERS = ("user-agent", "content-type", "content-length", "x-forwarded-for", "x-request-id")
NEVER_KEEP = ("cookie", "authorization", "proxy-authorization", "set-cookie")
HEADER_VALUE_MAX = 500


def _clean(value: object, limit: int) -> str:
    """A string safe for any database column: nothing PostgreSQL refuses, bounded length."""
    return storable_text(str(value))[:limit]


def webhook_headers_select(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth keeping: the usual few plus anything banq-looking; never credentials."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in NEVER_KEEP:
            continue
        if lower in KEEP_HEADERS or "banq" in lower or lower.startswith("x-webhook"):
            kept[_clean(lower, 100)] = _clean(value, HEADER_VALUE_MAX)
    return kept


def webhook_event_record(
    *,
    body: bytes,
    content_type: str = "",
    headers: Mapping[str, str] | None = None,
    remote_addr: str = "",
    body_size: int | None = None,
    truncated: bool = False,
    error: str = "",
    attempting: bool = False,
) -> WebhookEvent:
    """Store a delivery as received (or, with ``error``, as invalid), committed on its own (one
    INSERT in autocommit). ``attempting``: it is processed right away, so its first attempt is
    counted now."""
    now = timezone.now()
    return WebhookEvent.objects.create(
        attempts=int(attempting),
        last_attempt_at=now if attempting else None,
        raw_body=bytes(body),
        body_size=len(body) if body_size is None else body_size,
        body_truncated=truncated,
        content_type=_clean(content_type, 255),
        headers=webhook_headers_select(headers or {}),
        remote_addr=_clean(remote_addr, 64),
        state=State.INVALID if error else State.RECEIVED,
        error=error,
    )


def webhook_looks_like_banq(body: bytes) -> bool:
    """Whether a (refused) body reads as a banq event; the body itself is not kept."""
    try:
        parse_webhook_event(body)
    except InvalidWebhookPayload:
        return False
    return True


def webhook_refusal_count(*, remote_addr: str = "", banq_like: bool = False) -> None:
    """Count one wrong-token call for today (the body is not stored)."""
    now = timezone.now()
    day = timezone.localdate(now)
    changes: dict = {
        "count": F("count") + 1,
        "last_seen_at": now,
        "last_remote_addr": _clean(remote_addr, 64),
    }
    if banq_like:
        changes |= {"banq_like": F("banq_like") + 1, "banq_like_last_at": now}
    if WebhookRefusal.objects.filter(day=day).update(**changes):
        return
    try:
        with transaction.atomic():
            WebhookRefusal.objects.create(
                day=day,
                count=1,
                banq_like=int(banq_like),
                banq_like_last_at=now if banq_like else None,
                last_seen_at=now,
                last_remote_addr=changes["last_remote_addr"],
            )
    except IntegrityError:  # another refusal created today's row meanwhile
        WebhookRefusal.objects.filter(day=day).update(**changes)


@dataclass(frozen=True)
class _Fetched:
    remote: RemotePayment
    dedupe_key: str
    # The re-fetched transaction of a Transaction event (a recurring payment's installment).
    transaction: RemoteTransaction | None = None


class _Park(Exception):
    """Stop processing and leave the event in ``state`` with ``error``."""

    def __init__(self, state: str, error: str) -> None:
        super().__init__(error)
        self.state = state
        self.error = error


def _count_attempt(event: WebhookEvent) -> None:
    now = timezone.now()
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=F("attempts") + 1, last_attempt_at=now)
    event.attempts += 1
    event.last_attempt_at = now


def webhook_event_process(
    *,
    event: WebhookEvent,
    in_request: bool = False,
    counted: bool = False,
    client: BanqClient | None = None,
) -> WebhookEvent:
    """Process one stored event and return it with its new state. Never raises for bad input.

    ``in_request``: banq is asked with no retries and short timeouts (banq retries the delivery
    itself, and the worker finishes what doesn't fit; see ``banq.client.banq_budget``).
    ``counted``: this attempt was already counted when the event was recorded. ``client``: the
    banq client to re-fetch with (default: ``get_banq_client(in_request=...)``).

    Settled events (processed, duplicate, ignored, rejected) are returned unchanged. States after
    the call: ``invalid`` (body unreadable), ``ignored`` (an action or resource type we don't act
    on, or a payment banq doesn't report as completed or failed), ``processed``, ``duplicate``
    (the same re-fetched change was already applied), ``rejected`` (banq's answer doesn't match
    the order, or banq doesn't know the resource), ``unmatched`` (no order yet: retry later),
    ``pending`` (banq unreachable: retry later), ``failed`` (unexpected error: retry later), and
    ``dead`` instead of ``failed`` from the ``DEAD_AFTER_ATTEMPTS``-th attempt on (no longer retried
    by itself; processed again only when asked for by id or state).
    """
    if event.state in WebhookEvent.FINAL_STATES:
        return event
    if not counted:
        _count_attempt(event)
    try:
        notification = parse_webhook_event(bytes(event.raw_body))
    except InvalidWebhookPayload as exc:
        return _settle(event, State.INVALID, str(exc))
    event.action = notification.action
    event.resource_type = notification.resource_type
    event.resource_id = notification.resource_id
    event.event_id = notification.event_id or ""
    if notification.action not in ACTIONS or notification.resource_type not in RESOURCE_TYPES:
        return _settle(
            event,
            State.IGNORED,
            f"Not acted on: {notification.resource_type} {notification.action}.",
        )
    try:
        client = client or get_banq_client(in_request=in_request)
        fetched = _fetch(event, notification, client=client)
    except (_Park, BanqError) as exc:
        return _settle(event, *_fetch_failed(event, exc))
    return _apply(event, fetched)


def _fetch_failed(event: WebhookEvent, exc: _Park | BanqError) -> tuple[str, str]:
    """``(state, error)`` of an event whose re-fetch did not give banq's answer."""
    if isinstance(exc, _Park):
        return exc.state, exc.error
    if isinstance(exc, BanqUnavailable):
        logger.warning("Webhook event %s: banq unreachable, kept pending (%s)", event.pk, exc)
        return State.PENDING, f"banq could not be reached: {exc}"
    if isinstance(exc, BanqNotFound):
        logger.warning("Webhook event %s: banq does not know the resource", event.pk)
        return State.REJECTED, (
            f"banq does not know {event.resource_type} {event.resource_id}: {exc}"
        )
    if isinstance(exc, BanqConfigError):
        logger.error("Webhook event %s: banq is not configured: %s", event.pk, exc)
        return State.FAILED, f"banq is not configured: {exc}"
    logger.error("Webhook event %s: banq refused the re-fetch: %s", event.pk, exc)
    return State.FAILED, f"{type(exc).__name__}: {exc}"


def _fetch(
    event: WebhookEvent, notification: WebhookNotification, *, client: BanqClient
) -> _Fetched:
    """Re-fetch from banq what ``event`` is about (its ``notification``). Raises ``BanqError`` or
    ``_Park``."""
    tx: RemoteTransaction | None = None
    if notification.resource_type == "payment":
        remote = client.get_payment(notification.resource_id)
    else:
        tx = client.get_transaction(notification.resource_id)
        if tx.payment_guid:
            remote = client.get_payment(tx.payment_guid)
        else:
            payment_id = _payment_id_by_order_code(tx.external_order_code)
            if not payment_id:
                raise _Park(
                    State.UNMATCHED,
                    f"Transaction {tx.guid} names no payment, and no attempt with a banq id "
                    f"matches its order code {tx.external_order_code or '(none)'}.",
                )
            remote = client.get_payment(payment_id)
    key = ":".join(
        (notification.resource_type, notification.resource_id, notification.action, remote.status)
    )
    return _Fetched(remote=remote, dedupe_key=_clean(key, 255), transaction=tx)


def _payment_id_by_order_code(code: str | None) -> str:
    if not code:
        return ""
    attempt = (
        BanqPayment.objects.filter(order__number=code)
        .exclude(banq_payment_id="")
        .order_by("-pk")
        .first()
    )
    return attempt.banq_payment_id if attempt else ""


EVENT_RESULT_FIELDS = [
    "state",
    "error",
    "processed_at",
    "next_attempt_at",
    "action",
    "resource_type",
    "resource_id",
    "event_id",
    "dedupe_key",
    "processed_key",
    "order",
    "payment",
]


def _apply(event: WebhookEvent, fetched: _Fetched) -> WebhookEvent:
    """Apply the re-fetched payment and settle the event, in one transaction. The unique
    ``processed_key`` decides which of two events for the same change applied it; the other
    becomes a duplicate (its work rolled back). The event is written last, only if no other run
    settled it meanwhile (a conditional update; else everything here is rolled back), so it needs
    no lock of its own before the order's."""
    try:
        with transaction.atomic():
            outcome = payment_apply(
                remote=fetched.remote,
                source=OrderEvent.Source.WEBHOOK,
                remote_transaction=fetched.transaction,
            )
            state = State(outcome.result.meaning.event_state)
            _fill(event, fetched, outcome)
            error = outcome.reason
            if state == State.DUPLICATE and outcome.installments:
                # Hook: the payment was applied before, but this event brought installments
                # (each recorded once by its transaction id, not by processed_key).
                state, error = State.PROCESSED, installment_results(outcome.installments)
            elif state in (State.PROCESSED, State.REJECTED):
                event.processed_key = fetched.dedupe_key
            if state == State.DUPLICATE and not error:
                error = "Already applied by another event."
            _finish(event, state, error)
            if not _save_unless_settled(event):
                raise _SettledElsewhere
    except _SettledElsewhere:
        _forget_rolled_back(event)
        return WebhookEvent.objects.get(pk=event.pk)
    except IntegrityError:
        # Another event took the processed_key first: we are the repeat, and everything we did
        # in the block was rolled back.
        _forget_rolled_back(event)
        if _key_taken(fetched.dedupe_key, event.pk):
            return _settle(event, State.DUPLICATE, "Already applied by another event.")
        logger.exception("Webhook event %s: integrity error while applying", event.pk)
        return _settle(event, State.FAILED, "IntegrityError while applying the payment.")
    except Exception as exc:
        logger.exception("Webhook event %s: processing failed", event.pk)
        _forget_rolled_back(event)
        return _settle(event, State.FAILED, f"{type(exc).__name__} while applying the payment.")
    _log_outcome(event, outcome)
    return event


class _SettledElsewhere(Exception):
    """Another run settled the event while this one applied it: roll this one back."""


def _save_unless_settled(event: WebhookEvent) -> bool:
    """Write the event's result unless it is settled already; False when another run got there
    first (the row is then left as that run wrote it)."""
    values = {name: getattr(event, name) for name in EVENT_RESULT_FIELDS}
    return bool(
        WebhookEvent.objects.filter(pk=event.pk)
        .exclude(state__in=WebhookEvent.FINAL_STATES)
        .update(**values)
    )


def _forget_rolled_back(event: WebhookEvent) -> None:
    """The block was rolled back: drop what we set in memory but never committed."""
    event.processed_key = None
    event.payment = None
    event.order = None


def _key_taken(key: str, pk: int) -> bool:
    return WebhookEvent.objects.filter(processed_key=key).exclude(pk=pk).exists()


def _fill(event: WebhookEvent, fetched: _Fetched, outcome: PaymentOutcome) -> None:
    event.dedupe_key = fetched.dedupe_key
    if outcome.order is not None:
        event.order = outcome.order
    if outcome.attempt is not None:
        event.payment = outcome.attempt


RETRY_FIRST_SECONDS = 10
RETRY_MAX_SECONDS = 3600


def webhook_retry_delay(attempts: int) -> timedelta:
    """How long the worker waits before processing an event again after ``attempts`` tries:
    10 s, 20 s, 40 s, ... up to an hour."""
    return timedelta(
        seconds=min(RETRY_FIRST_SECONDS * 2 ** max(0, attempts - 1), RETRY_MAX_SECONDS)
    )


# An event that failed for an unexpected reason on this many attempts (about 20 minutes of
# backoff) is not retried any more: retrying does not fix a bug or data the database refuses.
DEAD_AFTER_ATTEMPTS = 8


def _finish(event: WebhookEvent, state: str, error: str) -> None:
    now = timezone.now()
    if state == State.FAILED and event.attempts >= DEAD_AFTER_ATTEMPTS:
        state = State.DEAD
        error = f"Gave up after {event.attempts} attempts; reprocess it once fixed. {error}"
        logger.error("Webhook event %s: gave up after %s attempts", event.pk, event.attempts)
    event.state = state
    event.error = _clean(error, 2000)
    final = state in WebhookEvent.FINAL_STATES or state in (State.INVALID, State.DEAD)
    event.processed_at = now if state in WebhookEvent.FINAL_STATES else None
    event.next_attempt_at = None if final else now + webhook_retry_delay(event.attempts)


def webhook_event_claim(*, pk: int, seconds: int = 300) -> bool:
    """Claim event ``pk`` for processing by this run: True for one claimant at a time, across
    processes (a conditional update; a claim left by a crashed run lapses after ``seconds``)."""
    now = timezone.now()
    return bool(
        WebhookEvent.objects.filter(pk=pk)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + timedelta(seconds=seconds))
    )


def webhook_event_process_claimed(*, pk: int) -> WebhookEvent | None:
    """Claim, process and release event ``pk`` (the worker, ``process_webhooks``, the admin).
    None when another run holds it."""
    if not webhook_event_claim(pk=pk):
        return None
    try:
        event = WebhookEvent.objects.filter(pk=pk).first()
        if event is None:
            return None
        return webhook_event_process(event=event)
    finally:
        WebhookEvent.objects.filter(pk=pk).update(claimed_until=None)


def _settle(event: WebhookEvent, state: str, error: str) -> WebhookEvent:
    """Save a state reached without applying anything (its own small transaction)."""
    _finish(event, state, error)
    with transaction.atomic():
        locked = row_lock(WebhookEvent, pk=event.pk, fields=("state",))
        if locked.state in WebhookEvent.FINAL_STATES and state not in WebhookEvent.FINAL_STATES:
            # a concurrent run settled it meanwhile; keep its answer
            return WebhookEvent.objects.get(pk=event.pk)
        event.save(
            update_fields=[
                "state",
                "error",
                "processed_at",
                "next_attempt_at",
                "action",
                "resource_type",
                "resource_id",
                "event_id",
                "attempts",
                "last_attempt_at",
            ]
        )
    if event.state == State.DEAD:
        _flag_dead(event)
    return event


def _flag_dead(event: WebhookEvent) -> None:
    """Put the order a dead event is about, when it can be found, in "needs attention"."""
    order = event.order
    if order is None and event.resource_id:
        attempt = (
            BanqPayment.objects.filter(banq_payment_id=event.resource_id)
            .select_related("order")
            .first()
        )
        order = attempt.order if attempt else None
    if order is None:
        return  # the admin index counts dead events on their own as well
    try:
        order_flag_raise(
            order=order,
            kind=OrderFlag.Kind.NOTIFICATION_FAILED,
            note=f"banq's webhook event #{event.pk} failed on every attempt: {event.error}",
            reference=f"webhook-event-{event.pk}",
            source=OrderEvent.Source.WEBHOOK,
        )
    except Exception:  # the flag is a courtesy; the event is dead and counted either way
        logger.exception("Webhook event %s: could not flag its order", event.pk)


def _log_outcome(event: WebhookEvent, outcome: PaymentOutcome) -> None:
    order: Order | None = outcome.order
    logger.info(
        "Order %s: webhook event %s %s (%s)",
        order.public_id if order else "-",
        event.pk,
        event.state,
        outcome.result,
        extra={"order": order.number if order else ""},
    )
