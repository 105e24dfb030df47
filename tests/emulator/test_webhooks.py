"""Webhook deliveries from the emulator to a local receiver: shapes, retries, backoff, resend."""

from __future__ import annotations

import time

import pytest
import requests

from tests.emulator.conftest import ACCOUNT_SPACE_ID, auth, create_link

pytestmark = pytest.mark.integration


def test_completion_delivers_payment_then_transaction_event(banq_emulator, receiver, payment_id):
    banq_emulator.set_webhook_config(receiver.url)

    banq_emulator.complete(payment_id)
    deliveries = banq_emulator.wait_for_deliveries(2)

    assert [e["resourceType"] for e in receiver.received] == ["Payment", "Transaction"]
    payment_event, txn_event = receiver.received
    assert payment_event["action"] == "completed"
    assert payment_event["resourceId"] == payment_id
    assert txn_event["resourceId"] == banq_emulator.payment(payment_id)["transactionGuid"]
    assert set(payment_event) == {"action", "resourceType", "resourceId", "eventId", "occurredAt"}
    assert payment_event["eventId"] != txn_event["eventId"]
    assert all(d["status"] == "delivered" for d in deliveries)
    assert deliveries[0]["attempts"][0]["statusCode"] == 200
    assert deliveries[0]["attempts"][0]["responseBody"] == "ok"


def test_failure_delivers_failed_action(banq_emulator, receiver, payment_id):
    banq_emulator.set_webhook_config(receiver.url, types=("payment",))

    banq_emulator.fail(payment_id, reason="InsufficientBalance")
    banq_emulator.wait_for_deliveries(1)

    assert receiver.received == [
        {
            "action": "failed",
            "resourceType": "Payment",
            "resourceId": payment_id,
            "eventId": receiver.received[0]["eventId"],
            "occurredAt": receiver.received[0]["occurredAt"],
        }
    ]


def test_retries_until_success_with_every_attempt_recorded(banq_emulator, receiver, payment_id):
    banq_emulator.set_webhook_config(receiver.url, retry_count=5, types=("payment",))
    receiver.fail_first = 3

    started = time.monotonic()
    banq_emulator.complete(payment_id)
    (delivery,) = banq_emulator.wait_for_deliveries(1)
    elapsed = time.monotonic() - started

    assert delivery["status"] == "delivered"
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 500, 500, 200]
    assert delivery["attempts"][0]["responseBody"] == "nope"
    assert len(receiver.received) == 4
    # backoff 0.05 s doubling: 0.05 + 0.1 + 0.2 between the four attempts
    assert elapsed >= 0.35


def test_retry_count_caps_attempts(banq_emulator, receiver, payment_id):
    banq_emulator.set_webhook_config(receiver.url, retry_count=2, types=("payment",))
    receiver.fail_first = 100

    banq_emulator.complete(payment_id)
    # Settled: a failed delivery gets no further attempt.
    (delivery,) = banq_emulator.wait_for_deliveries(1)

    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == 3
    assert len(receiver.received) == 3


def test_connection_error_is_recorded_and_retried(banq_emulator, payment_id):
    banq_emulator.set_webhook_config("http://127.0.0.1:9/hook", retry_count=1, types=("payment",))

    banq_emulator.complete(payment_id)
    (delivery,) = banq_emulator.wait_for_deliveries(1)

    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == 2
    assert all(a["statusCode"] is None and a["error"] for a in delivery["attempts"])


def test_resend_sends_the_same_event_again(banq_emulator, receiver, payment_id):
    banq_emulator.set_webhook_config(receiver.url, types=("payment",))
    banq_emulator.complete(payment_id)
    (delivery,) = banq_emulator.wait_for_deliveries(1)

    banq_emulator.resend(delivery["id"])
    receiver.wait_for(2)
    (after,) = banq_emulator.wait_for_deliveries(1)

    assert len(receiver.received) == 2
    assert receiver.received[0] == receiver.received[1]
    assert len(after["attempts"]) == 2


def test_disabled_config_and_foreign_destination_send_nothing(banq_emulator, receiver, api_token):
    banq_emulator.set_webhook_config(receiver.url, enabled=False)
    own = create_link(banq_emulator, api_token).json()["data"]["id"]
    banq_emulator.complete(own)
    banq_emulator.set_webhook_config(receiver.url)
    foreign = create_link(
        banq_emulator, api_token, destination={"banqGuid": "0e2d4c6b-8a9f-4b1c-9d3e-5f7a6b8c9d0e"}
    ).json()["data"]["id"]
    banq_emulator.complete(foreign)

    # Deliveries are recorded when the payment settles: none was, so none can be sent later.
    assert banq_emulator.deliveries() == []
    assert receiver.received == []


def test_config_registered_through_the_api_is_used(banq_emulator, receiver, api_token, payment_id):
    url = f"{banq_emulator.api_url}/account-spaces/{ACCOUNT_SPACE_ID}/webhook-config"
    requests.post(
        url,
        json={"url": receiver.url, "enabled": True, "retryCount": 5, "webHookTypes": ["payment"]},
        headers=auth(api_token),
        timeout=5,
    )

    banq_emulator.complete(payment_id)
    banq_emulator.wait_for_deliveries(1)

    assert [e["resourceId"] for e in receiver.received] == [payment_id]


def test_webhook_url_option_preregisters_a_config():
    from tests.support.emulator import EmulatorHandle, start_emulator, stop_emulator

    process, url = start_emulator("--webhook-url", "http://127.0.0.1:9/hook", "--seed", "3")
    try:
        config = EmulatorHandle(url).webhook_config()
        EmulatorHandle(url).reset()
        after_reset = EmulatorHandle(url).webhook_config()
    finally:
        stop_emulator(process)

    assert config == {
        "url": "http://127.0.0.1:9/hook",
        "enabled": True,
        "retryCount": 5,
        "webHookTypes": ["payment", "transaction"],
    }
    assert after_reset == config
    assert process.returncode == 0
