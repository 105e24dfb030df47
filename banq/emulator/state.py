"""The emulator's in-memory state: payments, transactions, tokens, webhooks, deliveries, faults.

Constants (credentials, account spaces, banq guids) live in banq/emulator/defaults.py, which
storefront/settings.py repeats. Everything here is guarded by one lock; nothing is persisted.
"""

from __future__ import annotations

import base64
import json
import random
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from banq.emulator import defaults

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


@dataclass
class Transaction:
    guid: str
    payment_guid: str
    external_order_code: str
    status: str
    funds: Decimal
    fail_reason: str | None
    created_at: str


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
        return {
            "url": self.url,
            "enabled": self.enabled,
            "retryCount": self.retry_count,
            "webHookTypes": list(self.types),
        }


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
        return {
            "id": self.id,
            "eventId": self.event["eventId"],
            "action": self.event["action"],
            "resourceType": self.event["resourceType"],
            "resourceId": self.event["resourceId"],
            "event": dict(self.event),
            "url": self.url,
            "createdAt": self.created_at,
            "duplicate": self.duplicate,
            "status": self.status,
            "attempts": [dict(a) for a in self.attempts],
        }


class EmulatorState:
    """All mutable state. Methods take the lock; callers never touch the dicts directly."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        merchant_name: str = defaults.MERCHANT_NAME,
        webhook_url: str | None = None,
        faults: dict[str, Any] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.rng = random.Random(seed)
        self.merchant_name = merchant_name
        self.startup_webhook_url = webhook_url
        self.startup_faults = validate_faults(faults or {})
        self.generation = 0  # bumped by reset(): delivery threads of an older generation stop
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
        self.faults: dict[str, Any] = {**FAULT_DEFAULTS, **self.startup_faults}
        self.webhook_configs: dict[str, WebhookConfig] = {}
        if self.startup_webhook_url:
            self.webhook_configs[defaults.ACCOUNT_SPACE_ID] = WebhookConfig(
                url=self.startup_webhook_url
            )

    def reset(self, *, seed: int | None = None) -> None:
        """Back to start-up values. The id generator is reseeded only when a seed is given, so
        ids stay unique across resets (a store database may outlive them)."""
        with self.lock:
            self.generation += 1
            if seed is not None:
                self.seed = seed
                self.rng = random.Random(seed)
            self._clear()

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
            self.tokens[token] = Token(audience=audience, subject=subject, expires_at=expires)
            return token, max(1, int(round(float(ttl))))

    def check_token(self, token: str) -> Token | None:
        with self.lock:
            found = self.tokens.get(token)
            if found is None:
                return None
            if time.time() >= found.expires_at:
                del self.tokens[token]
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
            return payment

    def payment_by_code(self, code: str) -> Payment | None:
        with self.lock:
            payment_id = self.codes.get(code)
            return self.payments.get(payment_id) if payment_id else None

    def settle(
        self, payment_id: str, *, status: str, reason: str | None = None, via: str = "api"
    ) -> tuple[Payment, Transaction] | None:
        """Complete or fail a created payment. Returns None when it was already settled
        (the caller decides how to report that); KeyError for an unknown id."""
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
            self.transactions[transaction.guid] = transaction
            payment.transaction_guid = transaction.guid
            return payment, transaction

    # -- deliveries --------------------------------------------------------------

    def add_delivery(self, *, event: dict[str, Any], url: str, duplicate: bool) -> Delivery:
        with self.lock:
            delivery = Delivery(
                id=self.new_uuid(), event=event, url=url, created_at=now_iso(), duplicate=duplicate
            )
            self.deliveries[delivery.id] = delivery
            self.delivery_order.append(delivery.id)
            return delivery

    def deliveries_json(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self.deliveries[d].as_json() for d in self.delivery_order]
