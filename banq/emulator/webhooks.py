"""Webhook deliveries: one background thread per settled payment, attempts recorded, retries with
exponential backoff, and the delivery faults (duplicates, out of order, delay, drops)."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import requests

from banq.emulator.state import Delivery, EmulatorState, Payment, Transaction, now_iso

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
        """Queue the events for a settled payment per the destination space's webhook config."""
        state = self.state
        with state.lock:
            space = state.banq_account(payment.banq_guid)
            config = state.webhook_configs.get(space.id) if space else None
            if config is None or not config.enabled:
                return []
            faults = dict(state.faults)
            events = []
            for kind in config.types:
                if kind == "payment":
                    events.append(self._event(payment.status, "Payment", payment.id))
                elif kind == "transaction":
                    events.append(self._event(payment.status, "Transaction", transaction.guid))
            if faults["out_of_order"]:
                events.sort(key=lambda e: e["resourceType"] != "Transaction")
            deliveries = []
            for event in events:
                for copy in range(1 + int(faults["duplicate_deliveries"])):
                    delivery = state.add_delivery(event=event, url=config.url, duplicate=copy > 0)
                    if state.random() < faults["drop_deliveries"]:
                        delivery.status = "dropped"
                    deliveries.append(delivery)
            retry_count = config.retry_count
            generation = state.generation
        thread = threading.Thread(
            target=self._run,
            args=(deliveries, retry_count, float(faults["delivery_delay_s"]), generation),
            name=f"webhooks-{payment.id[:8]}",
            daemon=True,
        )
        thread.start()
        return deliveries

    def resend(self, delivery_id: str) -> Delivery:
        """Send one recorded delivery again (KeyError if unknown), with the current retry count."""
        state = self.state
        with state.lock:
            delivery = state.deliveries[delivery_id]
            delivery.status = "pending"
            space_id = _space_of(state, delivery)
            space = state.account_spaces.get(space_id) if space_id else None
            config = state.webhook_configs.get(space.id) if space else None
            retry_count = config.retry_count if config else 0
            generation = state.generation
        threading.Thread(
            target=self._run,
            args=([delivery], retry_count, 0.0, generation),
            name=f"webhooks-resend-{delivery_id[:8]}",
            daemon=True,
        ).start()
        return delivery

    def _run(
        self, deliveries: list[Delivery], retry_count: int, delay: float, generation: int
    ) -> None:
        if delay and self.stopping.wait(delay):
            return
        for delivery in deliveries:
            if self._stale(generation):
                return
            if delivery.status == "dropped":
                with self.state.lock:
                    delivery.attempts.append({"number": 0, "at": now_iso(), "dropped": True})
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
            with self.state.lock:
                if self.state.generation != generation:
                    return
                delivery.attempts.append(record)
                if ok:
                    delivery.status = "delivered"
                elif attempt == retry_count:
                    delivery.status = "failed"
            logger.info(
                "Webhook %s %s %s attempt %s: %s",
                delivery.id,
                delivery.event["resourceType"],
                delivery.event["action"],
                record["number"],
                record["statusCode"] or record["error"],
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
