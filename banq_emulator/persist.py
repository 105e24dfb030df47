"""The state file (`--state-file PATH`): payments, links, transactions, tokens, webhook configs
and deliveries as JSON, so a restart of the emulator keeps the links a store database still holds.

Written after every change while the state lock is held, to a temporary file beside it that is
then renamed over it: a reader never sees half a file, and a killed emulator leaves the last
complete state. (Not fsync'd: this survives the process dying, not the machine losing power.)
Faults and the installment clock are run-time settings and start from the command line again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import time
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from banq_emulator import defaults
from banq_emulator.state import Delivery, EmulatorState, Payment, Token, Transaction, WebhookConfig

logger = logging.getLogger(__name__)

FORMAT = "banq-emulator-state/1"


class StateFileError(Exception):
    """The state file cannot be used; the message is one line naming the file and the reason."""


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def snapshot(state: EmulatorState) -> dict[str, Any]:
    """Everything worth keeping, as JSON-ready values (call with the state lock held)."""
    version, internal, gauss = state.rng.getstate()
    return {
        "format": FORMAT,
        "savedAt": time.time(),
        "rng": [version, list(internal), gauss],
        "payments": [
            {
                "id": p.id,
                "code": p.code,
                "funds": str(p.funds),
                "comment": p.comment,
                "externalOrderCode": p.external_order_code,
                "banqGuid": p.banq_guid,
                "frequency": p.frequency,
                "startDate": _iso(p.start_date),
                "endDate": _iso(p.end_date),
                "url": p.url,
                "createdAt": p.created_at,
                "status": p.status,
                "completedAt": p.completed_at,
                "failReason": p.fail_reason,
                "transactionGuid": p.transaction_guid,
                "completedVia": p.completed_via,
                "anchorDate": _iso(p.anchor_date),
                "cancelledAt": p.cancelled_at,
                "installments": list(p.installments),
            }
            for p in state.payments.values()
        ],
        "transactions": [
            {
                "guid": t.guid,
                "paymentGuid": t.payment_guid,
                "externalOrderCode": t.external_order_code,
                "status": t.status,
                "funds": str(t.funds),
                "failReason": t.fail_reason,
                "createdAt": t.created_at,
                "installment": t.installment,
                "scheduledDate": _iso(t.scheduled_date),
            }
            for t in state.transactions.values()
        ],
        "tokens": [
            {"token": k, "audience": t.audience, "subject": t.subject, "expiresAt": t.expires_at}
            for k, t in state.tokens.items()
        ],
        "webhookConfigs": {k: c.as_json() for k, c in state.webhook_configs.items()},
        "deliveries": [
            {
                "id": d.id,
                "event": d.event,
                "url": d.url,
                "createdAt": d.created_at,
                "duplicate": d.duplicate,
                "status": d.status,
                "attempts": d.attempts,
            }
            for d in (state.deliveries[i] for i in state.delivery_order)
        ],
    }


def restore(state: EmulatorState, data: dict[str, Any]) -> None:
    """Load a snapshot into state, all or nothing. Raises StateFileError on an unexpected shape."""
    try:
        payments = {}
        for p in data["payments"]:
            payment = Payment(
                id=str(p["id"]),
                code=str(p["code"]),
                funds=Decimal(p["funds"]),
                comment=str(p["comment"]),
                external_order_code=str(p["externalOrderCode"]),
                banq_guid=str(p["banqGuid"]),
                frequency=str(p["frequency"]),
                start_date=_date(p["startDate"]),
                end_date=_date(p["endDate"]),
                url=str(p["url"]),
                created_at=str(p["createdAt"]),
                status=str(p["status"]),
                completed_at=p["completedAt"],
                fail_reason=p["failReason"],
                transaction_guid=p["transactionGuid"],
                completed_via=p["completedVia"],
                anchor_date=_date(p.get("anchorDate")),
                cancelled_at=p.get("cancelledAt"),
                installments=[str(g) for g in p.get("installments", [])],
                last_charged=time.monotonic(),  # the clock counts a period from the restart
            )
            payments[payment.id] = payment
        transactions = {}
        for t in data["transactions"]:
            transaction = Transaction(
                guid=str(t["guid"]),
                payment_guid=str(t["paymentGuid"]),
                external_order_code=str(t["externalOrderCode"]),
                status=str(t["status"]),
                funds=Decimal(t["funds"]),
                fail_reason=t["failReason"],
                created_at=str(t["createdAt"]),
                installment=t.get("installment"),
                scheduled_date=_date(t.get("scheduledDate")),
            )
            transactions[transaction.guid] = transaction
        for payment in payments.values():
            for guid in payment.installments:
                if guid not in transactions:
                    raise StateFileError(f"payment {payment.id} names an unknown transaction")
        now = time.time()
        tokens = {
            str(t["token"]): Token(
                audience=str(t["audience"]),
                subject=str(t["subject"]),
                expires_at=float(t["expiresAt"]),
            )
            for t in data["tokens"]
            if float(t["expiresAt"]) > now
        }
        configs = {
            str(space): WebhookConfig(
                url=str(c["url"]),
                enabled=bool(c["enabled"]),
                retry_count=int(c["retryCount"]),
                types=[str(x) for x in c["webHookTypes"]],
            )
            for space, c in data["webhookConfigs"].items()
        }
        if state.startup_webhook_url and defaults.ACCOUNT_SPACE_ID not in configs:
            configs[defaults.ACCOUNT_SPACE_ID] = WebhookConfig(url=state.startup_webhook_url)
        deliveries = {}
        for d in data["deliveries"]:
            if not {"eventId", "action", "resourceType", "resourceId"} <= set(d["event"]):
                raise StateFileError("a delivery has an incomplete event")
            delivery = Delivery(
                id=str(d["id"]),
                event=dict(d["event"]),
                url=str(d["url"]),
                created_at=str(d["createdAt"]),
                duplicate=bool(d["duplicate"]),
                status=str(d["status"]),
                attempts=[dict(a) for a in d["attempts"]],
            )
            deliveries[delivery.id] = delivery
        version, internal, gauss = data["rng"]
        rng = random.Random()
        rng.setstate((int(version), tuple(int(x) for x in internal), gauss))
    except StateFileError:
        raise
    except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
        raise StateFileError(f"unexpected content ({type(exc).__name__}: {exc})") from None
    with state.lock:
        state.payments = payments
        state.codes = {p.code: p.id for p in payments.values()}
        state.transactions = transactions
        state.tokens = tokens
        state.webhook_configs = configs
        state.deliveries = deliveries
        state.delivery_order = list(deliveries)
        state.rng = rng


class StateFile:
    """Where the state is kept. `save` is called by EmulatorState under its lock."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._failing: str | None = None  # the last write error, logged once

    def read(self) -> dict[str, Any] | None:
        """The stored snapshot; None when there is no file yet. Raises StateFileError."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise StateFileError(f"{self.path} is not a UTF-8 text file") from None
        except OSError as exc:
            raise StateFileError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StateFileError(f"{self.path} is not valid JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StateFileError(f"{self.path} is not a banq emulator state file ({FORMAT})")
        return data

    def load_into(self, state: EmulatorState) -> bool:
        """Restore the file into state: True when something was loaded, False when there is no
        file. Raises StateFileError (nothing in state changed then)."""
        data = self.read()
        if data is None:
            return False
        try:
            restore(state, data)
        except StateFileError as exc:
            raise StateFileError(f"{self.path}: {exc}") from None
        return True

    def remove_stale_temporaries(self) -> None:
        """A process killed while writing leaves `.<name>.<pid>.tmp` behind (never the file)."""
        with contextlib.suppress(OSError):
            for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
                stale.unlink(missing_ok=True)

    def set_aside(self) -> Path | None:
        """Move an unusable file out of the way (to `<name>.corrupt`); None if that failed."""
        target = self.path.with_name(self.path.name + ".corrupt")
        try:
            if not self.path.is_file():
                return None  # a directory or the like is the operator's to sort out
            os.replace(self.path, target)
        except OSError:
            return None
        return target

    def save(self, state: EmulatorState) -> None:
        text = json.dumps(snapshot(state), separators=(",", ":"))
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, self.path)
        except OSError as exc:
            problem = f"{exc.strerror or exc}"
            if problem != self._failing:
                logger.error("Cannot write the state file %s: %s", self.path, problem)
                self._failing = problem
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return
        if self._failing is not None:
            logger.info("State file %s written again", self.path)
            self._failing = None
