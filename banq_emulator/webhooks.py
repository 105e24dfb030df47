"""Webhook deliveries: one background thread per settled payment or installment, attempts
recorded, retries with exponential backoff, and the delivery faults (duplicates, out of order,
delay, drops). Deliveries still pending when the emulator stopped are sent again on start-up
when a state file kept them (`resume_pending`)."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import requests

from banq_emulator.state import Delivery, EmulatorState, Payment, Transaction, now_iso

logger = logging.getLogger(__name__)

RESPONSE_SNIPPET = 500


class Deliverer:
    def __init__(self, state: EmulatorState, *, backoff: float = 2.0, timeout: float = 10.0):
        self.state = state
        self.backoff = backoff
        self.timeout = timeout
        self.stopping = threading.Event()

    def _event(self, action: str, resource_type: str, resource_id: str) -> dict[str, Any]:
        return {
            "action": action,
            "resourceType": resource_type,
            "resourceId": resource_id,
            "eventId": self.state.new_uuid(),
            "occurredAt": now_iso(),
        }

    def dispatch(self, payment: Payment, transaction: Transaction) -> list[Delivery]:
        """Queue the events for a settled payment per the destination space's webhook config:
        a Payment and a Transaction event, each with the payment's new status as its action."""
        return self._queue(
            payment,
            {
                "payment": ("Payment", payment.id, payment.status),
                "transaction": ("Transaction", transaction.guid, payment.status),
            },
        )

    def dispatch_installment(self, payment: Payment, transaction: Transaction) -> list[Delivery]:
        """Queue the Transaction event of a later installment (action completed or failed)."""
        return self._queue(
            payment, {"transaction": ("Transaction", transaction.guid, transaction.status)}
        )

    def _queue(self, payment: Payment, kinds: dict[str, tuple[str, str, str]]) -> list[Delivery]:
        state = self.state
        with state.lock:
            space = state.banq_account(payment.banq_guid)
            config = state.webhook_configs.get(space.id) if space else None
            if config is None or not config.enabled:
                return []
            faults = state.faults
            events = [
                self._event(action, resource_type, resource_id)
                for kind in config.types
                if kind in kinds
                for resource_type, resource_id, action in (kinds[kind],)
            ]
            if faults["out_of_order"]:
                events.sort(key=lambda e: e["resourceType"] != "Transaction")
            items = [
                (event, config.url, copy > 0)
                for event in events
                for copy in range(1 + int(faults["duplicate_deliveries"]))
            ]
            deliveries = (
                state.add_deliveries(items, drop_rate=faults["drop_deliveries"]) if items else []
            )
            retry_count = config.retry_count
            generation = state.generation
        if deliveries:
            self._start(
                deliveries,
                retry_count,
                float(faults["delivery_delay_s"]),
                generation,
                f"webhooks-{payment.id[:8]}",
            )
        return deliveries

    def resend(self, delivery_id: str) -> Delivery:
        """Send one recorded delivery again (KeyError if unknown), with the current retry count."""
        state = self.state
        with state.lock:
            delivery = state.requeue_delivery(delivery_id)
            retry_count = self._retry_count(delivery)
            generation = state.generation
        self._start([delivery], retry_count, 0.0, generation, f"webhooks-resend-{delivery_id[:8]}")
        return delivery

    def resume_pending(self) -> int:
        """Send the deliveries a state file kept as pending (the emulator stopped before they
        were delivered or gave up), in their original order. Returns how many."""
        state = self.state
        with state.lock:
            pending = state.pending_deliveries()
            generation = state.generation
            retry_count = max((self._retry_count(d) for d in pending), default=0)
        if pending:
            logger.info("Re-sending %s webhook deliveries pending at the last stop", len(pending))
            self._start(pending, retry_count, 0.0, generation, "webhooks-resume")
        return len(pending)

    def _retry_count(self, delivery: Delivery) -> int:
        space_id = _space_of(self.state, delivery)
        config = self.state.webhook_configs.get(space_id) if space_id else None
        return config.retry_count if config else 0

    def _start(
        self,
        deliveries: list[Delivery],
        retry_count: int,
        delay: float,
        generation: int,
        name: str,
    ) -> None:
        threading.Thread(
            target=self._run,
            args=(deliveries, retry_count, delay, generation),
            name=name,
            daemon=True,
        ).start()

    def _run(
        self, deliveries: list[Delivery], retry_count: int, delay: float, generation: int
    ) -> None:
        if delay and self.stopping.wait(delay):
            return
        for delivery in deliveries:
            if self._stale(generation):
                return
            if delivery.status == "dropped":
                self.state.record_attempt(
                    delivery,
                    {"number": 0, "at": now_iso(), "dropped": True},
                    status=None,
                    generation=generation,
                )
                logger.info("Webhook %s dropped (fault)", delivery.id)
                continue
            self._send(delivery, retry_count, generation)

    def _stale(self, generation: int) -> bool:
        return self.stopping.is_set() or self.state.generation != generation

    def _send(self, delivery: Delivery, retry_count: int, generation: int) -> None:
        body = json.dumps(delivery.event).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "banq-emulator-webhooks/1"}
        first = len(delivery.attempts) + 1
        for attempt in range(retry_count + 1):
            if self._stale(generation):
                return
            record: dict[str, Any] = {
                "number": first + attempt,
                "at": now_iso(),
                "statusCode": None,
                "responseBody": "",
                "error": None,
            }
            started = time.monotonic()
            ok = False
            try:
                response = requests.post(
                    delivery.url, data=body, headers=headers, timeout=self.timeout
                )
                record["statusCode"] = response.status_code
                record["responseBody"] = response.text[:RESPONSE_SNIPPET]
                ok = 200 <= response.status_code < 300
            except requests.RequestException as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"[:RESPONSE_SNIPPET]
            record["durationMs"] = int((time.monotonic() - started) * 1000)
            if self.stopping.is_set() and not ok:
                return  # stopping mid-attempt: the delivery stays pending for the next start
            status = "delivered" if ok else ("failed" if attempt == retry_count else None)
            if not self.state.record_attempt(
                delivery, record, status=status, generation=generation
            ):
                return
            logger.info(
                "Webhook %s %s %s attempt %s: %s",
                delivery.id,
                delivery.event["resourceType"],
                delivery.event["action"],
                record["number"],
                record["statusCode"] or record["error"],  # the error text is masked by now
            )
            if ok:
                return
            if attempt < retry_count and self.stopping.wait(self.backoff * (2**attempt)):
                return


def _space_of(state: EmulatorState, delivery: Delivery) -> str | None:
    """The account space whose config a delivery belongs to (by its payment's destination)."""
    resource_id = delivery.event["resourceId"]
    payment = state.payments.get(resource_id)
    if payment is None:
        transaction = state.transactions.get(resource_id)
        payment = state.payments.get(transaction.payment_guid) if transaction else None
    space = state.banq_account(payment.banq_guid) if payment else None
    return space.id if space else None
