"""Fault injection: latency, 5xx per route, duplicates, out of order, delay, drops, expiry."""

from __future__ import annotations

import time

import pytest
import requests

from tests.emulator.conftest import OPEN_API_BODY, auth, create_link, get_token
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration


def _timed_token(emulator) -> float:
    started = time.monotonic()
    requests.post(emulator.token_url, json=OPEN_API_BODY, timeout=5)
    return time.monotonic() - started


def test_latency_is_added_to_api_responses(banq_emulator):
    banq_emulator.set_faults(latency_ms=300)

    elapsed = _timed_token(banq_emulator)
    started = time.monotonic()
    banq_emulator.state()
    control_elapsed = time.monotonic() - started

    assert elapsed >= 0.3
    assert control_elapsed < 0.3


def test_error_rate_hits_only_the_chosen_route(banq_emulator, api_token):
    banq_emulator.set_faults(error_rate=1.0, error_routes=["get-paid-link"])

    link = create_link(banq_emulator, api_token)
    token = requests.post(banq_emulator.token_url, json=OPEN_API_BODY, timeout=5)

    assert link.status_code == 503
    assert link.json()["error"]["code"] == "service_unavailable"
    assert token.status_code == 200
    assert banq_emulator.payments() == []


def test_error_rate_is_a_rate(banq_emulator):
    banq_emulator.reset(seed=99)
    banq_emulator.set_faults(error_rate=0.5, error_routes=["token"])

    codes = [
        requests.post(banq_emulator.token_url, json=OPEN_API_BODY, timeout=5).status_code
        for _ in range(40)
    ]

    assert set(codes) == {200, 503}
    assert 8 <= codes.count(503) <= 32


def test_error_rate_without_routes_hits_every_api_route(banq_emulator):
    banq_emulator.set_faults(error_rate=1.0)

    token = requests.post(banq_emulator.token_url, json=OPEN_API_BODY, timeout=5)
    users = requests.get(f"{banq_emulator.api_url}/users/me", timeout=5)
    widget = requests.get(banq_emulator.widget_url, timeout=5)

    assert token.status_code == 503
    assert users.status_code == 503
    assert widget.status_code == 200


def test_duplicate_deliveries_send_each_event_again(banq_emulator, receiver, payment_id):
    banq_emulator.set_webhook_config(receiver.url, types=("payment",))
    banq_emulator.set_faults(duplicate_deliveries=2)

    banq_emulator.complete(payment_id)
    deliveries = banq_emulator.wait_for_deliveries(3)

    assert len(receiver.received) == 3
    assert len({e["eventId"] for e in receiver.received}) == 1
    assert [d["duplicate"] for d in deliveries] == [False, True, True]


def test_out_of_order_delivers_transaction_before_payment(banq_emulator, receiver, payment_id):
    banq_emulator.set_webhook_config(receiver.url)
    banq_emulator.set_faults(out_of_order=True)

    banq_emulator.complete(payment_id)
    banq_emulator.wait_for_deliveries(2)

    assert [e["resourceType"] for e in receiver.received] == ["Transaction", "Payment"]


def test_delivery_delay_holds_the_events_back(banq_emulator, receiver, payment_id):
    banq_emulator.set_webhook_config(receiver.url, types=("payment",))
    banq_emulator.set_faults(delivery_delay_s=0.5)

    banq_emulator.complete(payment_id)
    (delivery,) = banq_emulator.wait_for_deliveries(1)

    assert len(receiver.received) == 1
    held = _at(delivery["attempts"][0]["at"]) - _at(delivery["createdAt"])
    assert held.total_seconds() >= 0.5


def test_dropped_deliveries_are_recorded_and_never_sent(banq_emulator, receiver, payment_id):
    banq_emulator.set_webhook_config(receiver.url)
    banq_emulator.set_faults(drop_deliveries=1.0)

    banq_emulator.complete(payment_id)
    deliveries = banq_emulator.wait_for_deliveries(2)

    # Recorded as dropped when the payment settled: a dropped delivery is never sent.
    assert [d["status"] for d in deliveries] == ["dropped", "dropped"]
    assert receiver.received == []


def test_token_ttl_makes_tokens_expire(banq_emulator):
    banq_emulator.set_faults(token_ttl_s=1)
    response = requests.post(banq_emulator.token_url, json=OPEN_API_BODY, timeout=5)
    token = response.json()["access_token"]

    fresh = requests.get(
        f"{banq_emulator.api_url}/payments/00000000-0000-4000-8000-000000000000",
        headers=auth(token),
        timeout=5,
    )

    def refused_once_expired() -> list[requests.Response]:
        answer = requests.get(
            f"{banq_emulator.api_url}/payments/00000000-0000-4000-8000-000000000000",
            headers=auth(token),
            timeout=5,
        )
        return [answer] if answer.status_code != 404 else []  # a 401 Response is falsy

    (expired,) = wait_for(refused_once_expired, timeout=5, what="the token's second ran out")

    assert response.json()["expires_in"] == 1
    assert fresh.status_code == 404
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize(
    "faults",
    [
        {"nope": 1},
        {"error_rate": 2},
        {"latency_ms": -1},
        {"error_routes": ["everything"]},
        {"out_of_order": "maybe"},
        {"token_ttl_s": 0},
    ],
)
def test_bad_faults_are_400(banq_emulator, faults):
    response = requests.patch(f"{banq_emulator.control_url}/faults", json=faults, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_fault"


def test_post_faults_replaces_and_reset_restores(banq_emulator):
    banq_emulator.set_faults(latency_ms=10, error_rate=0.1)
    replaced = requests.post(
        f"{banq_emulator.control_url}/faults", json={"duplicate_deliveries": 1}, timeout=5
    ).json()["data"]
    banq_emulator.reset()

    assert replaced["latency_ms"] == 0
    assert replaced["duplicate_deliveries"] == 1
    assert banq_emulator.faults()["duplicate_deliveries"] == 0


def test_faults_given_at_start_up_apply_and_survive_reset():
    from tests.support.emulator import EmulatorHandle, start_emulator, stop_emulator

    process, url = start_emulator("--faults", '{"token_ttl_s": 60, "latency_ms": 1}')
    try:
        handle = EmulatorHandle(url)
        handle.reset()
        faults = handle.faults()
        token = requests.post(handle.token_url, json=OPEN_API_BODY, timeout=5).json()
    finally:
        stop_emulator(process)

    assert faults["token_ttl_s"] == 60
    assert faults["latency_ms"] == 1
    assert token["expires_in"] == 60


def test_bad_faults_at_start_up_exit_with_a_message():
    import subprocess

    from storefront import processes

    result = subprocess.run(
        processes.emulator_command(port=0, options=["--faults", '{"nope": 1}']),
        cwd=processes.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert result.returncode == 2
    assert "nope" in result.stderr


def test_token_still_works_after_faults_cleared(banq_emulator):
    banq_emulator.set_faults(error_rate=1.0)
    banq_emulator.set_faults(error_rate=0)

    assert get_token(banq_emulator)


def _at(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))
