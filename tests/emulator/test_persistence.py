"""The state file: `--state-file PATH` keeps the emulator's state across real restarts."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from storefront import processes
from tests.emulator.conftest import auth, create_link, get_token
from tests.support.emulator import EmulatorHandle, start_emulator, stop_emulator
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration


@contextmanager
def running(*args: str) -> Iterator[EmulatorHandle]:
    process, url = start_emulator(*args)
    try:
        yield EmulatorHandle(url, process)
    finally:
        stop_emulator(process)
    assert process.returncode == 0, EmulatorHandle(url, process).log()


def _get(emulator, token: str, path: str) -> requests.Response:
    return requests.get(f"{emulator.api_url}{path}", headers=auth(token), timeout=5)


def test_restart_keeps_payments_links_transactions_tokens_config_and_deliveries(tmp_path, receiver):
    state_file = tmp_path / "emulator-state.json"
    with running("--state-file", str(state_file), "--seed", "7") as first:
        token = get_token(first)
        first.set_webhook_config(receiver.url, retry_count=3)
        paid = create_link(first, token).json()["data"]
        unpaid = create_link(first, token, funds="5.00", externalOrderCode="ORD-43").json()["data"]
        monthly = create_link(
            first, token, frequency="monthly", startDate="2030-01-31", endDate="2030-12-31"
        ).json()["data"]
        first.complete(paid["id"])
        first.complete(monthly["id"])
        first.next_installment(monthly["id"])
        before = {
            "payments": sorted(first.payments(), key=lambda p: p["id"]),
            "deliveries": first.wait_for_deliveries(5),
            "transaction": first.payment(paid["id"])["transactionGuid"],
        }

    with running("--state-file", str(state_file), "--seed", "7") as second:
        after_payments = sorted(second.payments(), key=lambda p: p["id"])
        code = unpaid["url"].rsplit("/", 1)[1]
        link_page = requests.get(f"{second.url}/link/{code}", timeout=5)
        payment = _get(second, token, f"/payments/{paid['id']}")  # the old token still works
        transaction = _get(second, token, f"/transactions/{before['transaction']}")
        recurring = _get(second, token, f"/payments/{monthly['id']}").json()["data"]
        config = second.webhook_config()
        deliveries = second.deliveries()
        newer = create_link(second, token).json()["data"]

    assert after_payments == before["payments"]
    assert link_page.status_code == 200
    assert "Pay $5.00" in link_page.text
    assert payment.status_code == 200
    assert payment.json()["data"]["status"] == "completed"
    assert transaction.status_code == 200
    assert transaction.json()["data"]["paymentGuid"] == paid["id"]
    assert [t["installment"] for t in recurring["transactions"]] == [0, 1]
    assert recurring["nextInstallmentDate"] == "2030-03-31"
    assert config["url"] == receiver.url
    assert config["retryCount"] == 3
    assert deliveries == before["deliveries"]
    # The id generator carries on where it stopped: no id or code is handed out twice.
    assert newer["id"] not in {p["id"] for p in before["payments"]}
    assert newer["url"].rsplit("/", 1)[1] not in {p["code"] for p in before["payments"]}


def test_every_change_is_in_the_file_when_the_call_returns(tmp_path):
    state_file = tmp_path / "state.json"
    with running("--state-file", str(state_file)) as emulator:
        initial = json.loads(state_file.read_text())
        link = create_link(emulator, get_token(emulator)).json()["data"]
        created = json.loads(state_file.read_text())
        emulator.complete(link["id"])
        completed = json.loads(state_file.read_text())
        leftovers = sorted(p.name for p in tmp_path.iterdir())

    assert initial["payments"] == []
    assert [p["id"] for p in created["payments"]] == [link["id"]]
    assert created["payments"][0]["status"] == "created"
    assert completed["payments"][0]["status"] == "completed"
    assert len(completed["transactions"]) == 1
    assert leftovers == ["state.json"]  # the temporary file was renamed over it
    assert state_file.stat().st_mode & 0o077 == 0  # tokens inside: owner only


def test_a_temporary_file_left_by_a_killed_emulator_is_cleaned_up(tmp_path):
    state_file = tmp_path / "state.json"
    with running("--state-file", str(state_file)) as first:
        create_link(first, get_token(first))
    stale = tmp_path / ".state.json.99999.tmp"
    stale.write_text('{"half": ')

    with running("--state-file", str(state_file)) as second:
        payments = second.payments()

    assert len(payments) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_fresh_ignores_and_overwrites_the_file(tmp_path):
    state_file = tmp_path / "state.json"
    with running("--state-file", str(state_file)) as first:
        create_link(first, get_token(first))
        assert len(first.payments()) == 1

    with running("--state-file", str(state_file), "--fresh") as second:
        payments = second.payments()
        stored = json.loads(state_file.read_text())

    assert payments == []
    assert stored["payments"] == []
    assert stored["tokens"] == []


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "\x00\xff garbage",
        '{"format": "something else"}',
        '{"format": "banq-emulator-state/1", "payments": [{"id": 1}]}',
        "[]",
    ],
)
def test_a_corrupt_file_is_one_line_and_a_fresh_start(tmp_path, content):
    state_file = tmp_path / "state.json"
    state_file.write_bytes(content.encode("utf-8", "surrogateescape"))

    with running("--state-file", str(state_file)) as emulator:
        payments = emulator.payments()
        create_link(emulator, get_token(emulator))
        stored = json.loads(state_file.read_text())
        log = emulator.log()

    assert payments == []
    assert len(stored["payments"]) == 1
    assert "Traceback" not in log
    (warning,) = [line for line in log.splitlines() if "WARNING" in line]
    assert "State file unusable, starting fresh" in warning
    assert str(state_file) in warning
    kept = tmp_path / "state.json.corrupt"
    assert kept.read_bytes() == content.encode("utf-8", "surrogateescape")


def test_an_unusable_path_is_one_line_and_the_emulator_still_serves(tmp_path):
    state_dir = tmp_path / "a-directory"
    state_dir.mkdir()

    with running("--state-file", str(state_dir)) as emulator:
        link = create_link(emulator, get_token(emulator))
        create_link(emulator, get_token(emulator))
        log = emulator.log()

    assert link.status_code == 201
    assert state_dir.is_dir()  # left alone
    assert "Traceback" not in log
    assert len([line for line in log.splitlines() if "WARNING" in line]) == 1
    # A write failure is logged once, not on every change.
    assert len([line for line in log.splitlines() if "Cannot write the state file" in line]) == 1


def test_fresh_without_a_state_file_is_refused():
    result = subprocess.run(
        processes.emulator_command(port=0, options=["--fresh"]),
        cwd=processes.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=20,
    )

    assert result.returncode == 2
    assert "--fresh needs --state-file" in result.stderr


def test_a_delivery_pending_at_shutdown_is_sent_after_the_restart(tmp_path, receiver):
    state_file = tmp_path / "state.json"
    receiver.fail_first = 1  # the first attempt gets a 500; the retry would come 30 s later
    with running("--state-file", str(state_file), "--retry-backoff", "30") as first:
        first.set_webhook_config(receiver.url, retry_count=5, types=("payment",))
        link = create_link(first, get_token(first)).json()["data"]
        first.complete(link["id"])
        (pending,) = wait_for(
            lambda: [d for d in first.deliveries() if len(d["attempts"]) == 1],
            timeout=5,
            what="the first failed attempt",
        )
    assert pending["status"] == "pending"

    with running("--state-file", str(state_file), "--retry-backoff", "0.05") as second:
        (delivered,) = wait_for(
            lambda: [d for d in second.deliveries() if d["status"] == "delivered"],
            timeout=5,
            what="the re-sent delivery",
        )
        log = second.log()

    assert delivered["id"] == pending["id"]
    assert [a["statusCode"] for a in delivered["attempts"]] == [500, 200]
    assert len(receiver.received) == 2
    assert receiver.received[0] == receiver.received[1]  # the same event, same eventId
    assert "Re-sending 1 webhook deliveries pending at the last stop" in log


def test_without_a_state_file_the_state_says_memory_only(banq_emulator):
    assert banq_emulator.state()["stateFile"] is None
