"""The emulator's state: payments, transactions, tokens, webhooks, deliveries, faults.

Constants (credentials, account spaces, banq guids) live in banq_emulator/defaults.py, which
storefront/settings.py repeats. Everything here is guarded by one lock. With a state file
(`--state-file`), every change is written to it under that lock (banq_emulator/persist.py);
without one, nothing is persisted.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import string
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from banq_emulator import defaults
from banq_emulator.redact import mask_text, mask_url
from banq_emulator.schedule import installment_date

logger = logging.getLogger(__name__)

FAULT_DEFAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "error_routes": [],
    "duplicate_deliveries": 0,
    "out_of_order": False,
    "delivery_delay_s": 0.0,
    "drop_deliveries": 0.0,
    "token_ttl_s": None,
}


class FaultError(ValueError):
    """A fault setting with a wrong name or value; the message names the key."""


def validate_faults(raw: Any) -> dict[str, Any]:
    """Check a partial fault mapping; return it with normalised values. Raises FaultError."""
    if not isinstance(raw, dict):
        raise FaultError("faults must be a JSON object")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in FAULT_DEFAULTS:
            raise FaultError(f"unknown fault {key!r}; known: {', '.join(FAULT_DEFAULTS)}")
        if key == "error_routes":
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or any(v not in defaults.API_ROUTES for v in value):
                raise FaultError(
                    f"error_routes must be a list of route names: {', '.join(defaults.API_ROUTES)}"
                )
            out[key] = list(value)
            continue
        if key == "out_of_order":
            if isinstance(value, str):
                word = value.strip().lower()
                if word in ("1", "true", "on", "yes"):
                    value = True
                elif word in ("", "0", "false", "off", "no"):
                    value = False
            if not isinstance(value, bool):
                raise FaultError("out_of_order must be true or false")
            out[key] = value
            continue
        if key == "token_ttl_s" and (value is None or value == ""):
            out[key] = None
            continue
        if isinstance(value, bool):
            raise FaultError(f"{key} must be a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise FaultError(f"{key} must be a number") from None
        if number != number or number < 0:
            raise FaultError(f"{key} must be a number >= 0")
        if key in ("error_rate", "drop_deliveries") and number > 1:
            raise FaultError(f"{key} is a rate between 0 and 1")
        if key in ("latency_ms", "duplicate_deliveries"):
            if number != int(number):
                raise FaultError(f"{key} must be a whole number")
            out[key] = int(number)
        elif key == "token_ttl_s":
            if number <= 0:
                raise FaultError("token_ttl_s must be > 0 (or null for the default)")
            out[key] = number
        else:
            out[key] = number
    return out


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def today() -> date:
    return datetime.now(UTC).date()


class StateStore(Protocol):
    """Where the state is kept across restarts (``banq_emulator.persist.StateFile``): the state
    calls ``save`` after each change, under its lock, and knows nothing else of the file."""

    path: Path  # shown by the control API and the dashboard

    def save(self, state: EmulatorState) -> None: ...


class InstallmentError(Exception):
    """A next installment that cannot be charged; `code` names why (409 for the control API)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class AccountSpace:
    id: str
    name: str
    platform_id: str
    banq_accounts: list[tuple[str, str]]  # (banqGuid, banqName)


@dataclass
class Payment:
    id: str
    code: str
    funds: Decimal
    comment: str
    external_order_code: str
    banq_guid: str
    frequency: str
    start_date: date | None
    end_date: date | None
    url: str
    created_at: str
    status: str = "created"
    completed_at: str | None = None
    fail_reason: str | None = None
    transaction_guid: str | None = None
    completed_via: str | None = None
    # Recurring payments: installment 0 is the payment itself; `installments` holds the guids of
    # all its transactions, oldest first. anchor_date is the start date, or the day it was paid.
    anchor_date: date | None = None
    installments: list[str] = field(default_factory=list)
    # A recurring payment the merchant stopped (POST /api/v1/payments/{id}/cancel): no
    # installment is due after it (only a forced charge, modelling one already under way).
    cancelled_at: str | None = None
    # time.monotonic() of the latest charge (not persisted): the installment clock counts from it.
    last_charged: float = 0.0
    # The cached body of GET /api/v1/payments/{id}; every change sets it back to None.
    api_body: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def recurring(self) -> bool:
        return self.frequency != "once"

    def next_installment_date(self, *, even_cancelled: bool = False) -> date | None:
        """When the next installment is due: the start date before the payment is paid, None for
        a one-time, failed, cancelled (unless ``even_cancelled``) or ended payment (the next date
        would be after the end date)."""
        if not self.recurring or (self.cancelled_at and not even_cancelled):
            return None
        if self.status == "created":
            return self.start_date
        if self.status != "completed" or self.anchor_date is None:
            return None
        due = installment_date(self.anchor_date, self.frequency, len(self.installments))
        if self.end_date is not None and due > self.end_date:
            return None
        return due


@dataclass
class Transaction:
    guid: str
    payment_guid: str
    external_order_code: str
    status: str
    funds: Decimal
    fail_reason: str | None
    created_at: str
    installment: int | None = None  # set for the transactions of recurring payments
    scheduled_date: date | None = None


@dataclass
class Token:
    audience: str
    subject: str
    expires_at: float


@dataclass
class WebhookConfig:
    url: str
    enabled: bool = True
    retry_count: int = 5
    types: list[str] = field(default_factory=lambda: list(defaults.WEBHOOK_TYPES))

    def as_json(self) -> dict[str, Any]:
        """The full config, as banq's API and the control API's GET webhook-config return it."""
        return {
            "url": self.url,
            "enabled": self.enabled,
            "retryCount": self.retry_count,
            "webHookTypes": list(self.types),
        }

    def shown_json(self) -> dict[str, Any]:
        """For state and pages: the URL's webhook token masked."""
        return {**self.as_json(), "url": mask_url(self.url)}


@dataclass
class Delivery:
    id: str
    event: dict[str, Any]
    url: str
    created_at: str
    duplicate: bool = False
    status: str = "pending"  # pending, delivered, failed, dropped
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """For the control API and the dashboard: the URL's webhook token masked."""
        return {
            "id": self.id,
            "eventId": self.event["eventId"],
            "action": self.event["action"],
            "resourceType": self.event["resourceType"],
            "resourceId": self.event["resourceId"],
            "event": dict(self.event),
            "url": mask_url(self.url),
            "createdAt": self.created_at,
            "duplicate": self.duplicate,
            "status": self.status,
            "attempts": [dict(a) for a in self.attempts],
        }


class EmulatorState:
    """All mutable state. Methods take the lock; callers never change the dicts directly.

    Reads on the hot path (token check, payment lookup) are single dict lookups without the lock:
    the dicts are only changed under it, and one lookup is atomic in CPython.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        merchant_name: str = defaults.MERCHANT_NAME,
        webhook_url: str | None = None,
        faults: dict[str, Any] | None = None,
        installment_clock_s: float | None = None,
        store: StateStore | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.rng = random.Random(seed)
        self.merchant_name = merchant_name
        self.startup_webhook_url = webhook_url
        self.startup_faults = validate_faults(faults or {})
        self.startup_clock_s = installment_clock_s
        self.store = store
        self.generation = 0  # bumped by reset(): delivery threads of an older generation stop
        self.clock_changed = threading.Condition(self.lock)  # the installment clock waits on it
        self._clear()

    # -- lifecycle ---------------------------------------------------------------

    def _clear(self) -> None:
        self.account_spaces = {
            defaults.ACCOUNT_SPACE_ID: AccountSpace(
                id=defaults.ACCOUNT_SPACE_ID,
                name=self.merchant_name,
                platform_id=defaults.PLATFORM_ID,
                banq_accounts=[
                    (defaults.MERCHANT_BANQ_GUID, f"{self.merchant_name} Main"),
                    (defaults.MERCHANT_SECOND_BANQ_GUID, f"{self.merchant_name} Savings"),
                ],
            ),
            defaults.FOREIGN_ACCOUNT_SPACE_ID: AccountSpace(
                id=defaults.FOREIGN_ACCOUNT_SPACE_ID,
                name=defaults.FOREIGN_MERCHANT_NAME,
                platform_id="c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
                banq_accounts=[(defaults.FOREIGN_BANQ_GUID, defaults.FOREIGN_MERCHANT_NAME)],
            ),
        }
        self.payments: dict[str, Payment] = {}
        self.codes: dict[str, str] = {}  # link code -> payment id
        self.transactions: dict[str, Transaction] = {}
        self.tokens: dict[str, Token] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.delivery_order: list[str] = []
        # Replaced as a whole, never changed in place: readers take it without the lock.
        self.faults: dict[str, Any] = {**FAULT_DEFAULTS, **self.startup_faults}
        self.webhook_configs: dict[str, WebhookConfig] = {}
        if self.startup_webhook_url:
            self.webhook_configs[defaults.ACCOUNT_SPACE_ID] = WebhookConfig(
                url=self.startup_webhook_url
            )
        self.installment_clock_s: float | None = self.startup_clock_s
        self.clock_since = time.monotonic()

    def reset(self, *, seed: int | None = None) -> None:
        """Back to start-up values. The id generator is reseeded only when a seed is given, so
        ids stay unique across resets (a store database may outlive them)."""
        with self.lock:
            self.generation += 1
            if seed is not None:
                self.seed = seed
                self.rng = random.Random(seed)
            self._clear()
            self.clock_changed.notify_all()
            self._changed()

    def _changed(self) -> None:
        """Called under the lock after every change worth keeping: writes the state file."""
        if self.store is not None:
            self.store.save(self)

    # -- ids ---------------------------------------------------------------------

    def new_uuid(self) -> str:
        with self.lock:
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_code(self) -> str:
        alphabet = string.ascii_letters + string.digits
        with self.lock:
            while True:
                code = "".join(self.rng.choice(alphabet) for _ in range(11))
                if code not in self.codes:
                    return code

    def random(self) -> float:
        with self.lock:
            return self.rng.random()

    # -- lookups -----------------------------------------------------------------

    def banq_account(self, banq_guid: str) -> AccountSpace | None:
        for space in self.account_spaces.values():
            if any(guid == banq_guid for guid, _ in space.banq_accounts):
                return space
        return None

    def merchant_name_for(self, banq_guid: str) -> str:
        space = self.banq_account(banq_guid)
        return space.name if space else "Unknown merchant"

    # -- faults and settings -----------------------------------------------------

    def set_faults(self, faults: dict[str, Any]) -> dict[str, Any]:
        """Replace all faults (callers merge first). Faults are not persisted."""
        with self.lock:
            self.faults = dict(faults)
            return self.faults

    def set_installment_clock(self, seconds: float | None) -> None:
        """Fire installments automatically every `seconds` real seconds per period (None: off)."""
        with self.lock:
            self.installment_clock_s = seconds
            self.clock_since = time.monotonic()
            self.clock_changed.notify_all()

    def set_webhook_config(self, space_id: str, config: WebhookConfig | None) -> None:
        with self.lock:
            if config is None:
                self.webhook_configs.pop(space_id, None)
            else:
                self.webhook_configs[space_id] = config
            self._changed()
        shown = mask_url(config.url) if config else "removed"
        logger.info("Webhook config of account space %s: %s", space_id, shown)

    # -- tokens ------------------------------------------------------------------

    def issue_token(self, *, audience: str, subject: str, client_id: str) -> tuple[str, int]:
        """A JWT-shaped (unsigned for real: the signature is random) token and its lifetime."""
        with self.lock:
            ttl = self.faults.get("token_ttl_s") or defaults.TOKEN_TTL_S
            issued = time.time()
            expires = issued + float(ttl)
            payload = {
                "iss": "https://emulator.banq.test/",
                "sub": subject,
                "aud": audience,
                "azp": client_id,
                "iat": int(issued),
                "exp": int(expires) if float(ttl) >= 1 else int(issued),
                "gty": "password",
                "jti": self.new_uuid(),
            }
            signature = self.rng.getrandbits(256).to_bytes(32, "big")
            token = ".".join(
                base64.urlsafe_b64encode(part).rstrip(b"=").decode()
                for part in (
                    json.dumps({"alg": "RS256", "typ": "JWT"}).encode(),
                    json.dumps(payload, separators=(",", ":")).encode(),
                    signature,
                )
            )
            for old in [t for t, found in self.tokens.items() if found.expires_at <= issued]:
                del self.tokens[old]
            self.tokens[token] = Token(audience=audience, subject=subject, expires_at=expires)
            self._changed()
            return token, max(1, int(round(float(ttl))))

    def check_token(self, token: str) -> Token | None:
        found = self.tokens.get(token)
        if found is None:
            return None
        if time.time() >= found.expires_at:
            with self.lock:
                self.tokens.pop(token, None)
            return None
        return found

    # -- payments ----------------------------------------------------------------

    def create_payment(
        self,
        *,
        base_url: str,
        funds: Decimal,
        comment: str,
        external_order_code: str,
        banq_guid: str,
        frequency: str,
        start_date: date | None,
        end_date: date | None,
    ) -> Payment:
        with self.lock:
            code = self.new_code()
            payment = Payment(
                id=self.new_uuid(),
                code=code,
                funds=funds,
                comment=comment,
                external_order_code=external_order_code,
                banq_guid=banq_guid,
                frequency=frequency,
                start_date=start_date,
                end_date=end_date,
                url=f"{base_url}/link/{code}",
                created_at=now_iso(),
            )
            self.payments[payment.id] = payment
            self.codes[code] = payment.id
            self._changed()
            return payment

    def payment_by_code(self, code: str) -> Payment | None:
        payment_id = self.codes.get(code)
        return self.payments.get(payment_id) if payment_id else None

    def payment_transactions(self, payment: Payment) -> list[Transaction]:
        return [self.transactions[guid] for guid in payment.installments]

    def settle(
        self, payment_id: str, *, status: str, reason: str | None = None, via: str = "api"
    ) -> tuple[Payment, Transaction] | None:
        """Complete or fail a created payment. Returns None when it was already settled
        (the caller decides how to report that); KeyError for an unknown id. For a recurring
        payment this charges installment 0."""
        with self.lock:
            payment = self.payments[payment_id]
            if payment.status != "created":
                return None
            payment.status = status
            payment.completed_at = now_iso()
            payment.fail_reason = reason if status == "failed" else None
            payment.completed_via = via
            transaction = Transaction(
                guid=self.new_uuid(),
                payment_guid=payment.id,
                external_order_code=payment.external_order_code,
                status=status,
                funds=payment.funds,
                fail_reason=payment.fail_reason,
                created_at=payment.completed_at,
            )
            if payment.recurring:
                payment.anchor_date = payment.start_date or today()
                transaction.installment = 0
                transaction.scheduled_date = payment.anchor_date
                payment.installments = [transaction.guid]
                payment.last_charged = time.monotonic()
                self.clock_changed.notify_all()
            self.transactions[transaction.guid] = transaction
            payment.transaction_guid = transaction.guid
            payment.api_body = None
            self._changed()
            return payment, transaction

    def cancel_recurring(self, payment_id: str) -> Payment:
        """Stop charging a recurring payment (idempotent). KeyError for an unknown id;
        InstallmentError for a one-time payment."""
        with self.lock:
            payment = self.payments[payment_id]
            if not payment.recurring:
                raise InstallmentError("not_recurring", "This is a one-time payment")
            if payment.cancelled_at is None:
                payment.cancelled_at = now_iso()
                payment.api_body = None
                self._changed()
            return payment

    def charge_installment(
        self, payment_id: str, *, fail: bool = False, reason: str | None = None, force: bool = False
    ) -> tuple[Payment, Transaction]:
        """Charge the next installment of a paid recurring payment now: a new transaction,
        completed or failed with `reason`. KeyError for an unknown id; InstallmentError when the
        payment is one-time, not paid, cancelled (unless `force`: a charge already under way when
        the cancel came) or the next date would be after its end date."""
        with self.lock:
            payment = self.payments[payment_id]
            if not payment.recurring:
                raise InstallmentError("not_recurring", "This is a one-time payment")
            if payment.status != "completed":
                raise InstallmentError(
                    "not_paid", "The first installment of this payment is not paid"
                )
            if payment.cancelled_at and not force:
                raise InstallmentError(
                    "cancelled", f"The merchant cancelled this payment at {payment.cancelled_at}"
                )
            due = payment.next_installment_date(even_cancelled=force)
            if due is None:
                raise InstallmentError(
                    "schedule_ended",
                    f"The next installment would be after the end date {payment.end_date}",
                )
            transaction = Transaction(
                guid=self.new_uuid(),
                payment_guid=payment.id,
                external_order_code=payment.external_order_code,
                status="failed" if fail else "completed",
                funds=payment.funds,
                fail_reason=(reason or "InsufficientBalance") if fail else None,
                created_at=now_iso(),
                installment=len(payment.installments),
                scheduled_date=due,
            )
            self.transactions[transaction.guid] = transaction
            payment.installments.append(transaction.guid)
            payment.last_charged = time.monotonic()
            payment.api_body = None
            self._changed()
            return payment, transaction

    def clock_due(self, now: float) -> tuple[list[str], float | None]:
        """For the installment clock: ids of payments whose next installment is due at `now`
        (monotonic), and the seconds until the next one after that (None: nothing scheduled)."""
        with self.lock:
            period = self.installment_clock_s
            if not period:
                return [], None
            due: list[str] = []
            wait: float | None = None
            for payment in self.payments.values():
                if payment.status != "completed" or payment.next_installment_date() is None:
                    continue
                at = max(payment.last_charged, self.clock_since) + period
                if at <= now:
                    due.append(payment.id)
                else:
                    wait = at - now if wait is None else min(wait, at - now)
            return due, wait

    # -- deliveries --------------------------------------------------------------

    def add_deliveries(
        self, items: Iterable[tuple[dict[str, Any], str, bool]], *, drop_rate: float = 0.0
    ) -> list[Delivery]:
        """Record deliveries of (event, url, duplicate) in order; each is dropped (never sent)
        with probability drop_rate."""
        with self.lock:
            created = []
            for event, url, duplicate in items:
                delivery = Delivery(
                    id=self.new_uuid(),
                    event=event,
                    url=url,
                    created_at=now_iso(),
                    duplicate=duplicate,
                )
                if self.rng.random() < drop_rate:
                    delivery.status = "dropped"
                self.deliveries[delivery.id] = delivery
                self.delivery_order.append(delivery.id)
                created.append(delivery)
            self._changed()
            return created

    def record_attempt(
        self,
        delivery: Delivery,
        record: dict[str, Any],
        *,
        status: str | None,
        generation: int,
    ) -> bool:
        """Append an attempt (its error text masked) and set the status; False when a reset
        made the delivery stale."""
        with self.lock:
            if self.generation != generation:
                return False
            if record.get("error"):
                record["error"] = mask_text(record["error"])
            delivery.attempts.append(record)
            if status is not None:
                delivery.status = status
            self._changed()
            return True

    def requeue_delivery(self, delivery_id: str) -> Delivery:
        """Mark a recorded delivery pending again (KeyError if unknown)."""
        with self.lock:
            delivery = self.deliveries[delivery_id]
            delivery.status = "pending"
            self._changed()
            return delivery

    def pending_deliveries(self) -> list[Delivery]:
        with self.lock:
            return [
                self.deliveries[d]
                for d in self.delivery_order
                if self.deliveries[d].status == "pending"
            ]

    def deliveries_json(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self.deliveries[d].as_json() for d in self.delivery_order]
