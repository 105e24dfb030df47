"""pytest fixtures for the banq emulator (issue 4).

- `banq_emulator` (function scope): the running emulator, reset before each test. A handle with
  `.url`, `.api_url`, `.token_url`, `.widget_url` and helpers (see `EmulatorHandle`).
- `_banq_emulator_process` (session scope): one `python -m banq_emulator --port 0 --seed 1234
  --retry-backoff 0.05` subprocess for the whole run (in memory: no state file).
- `emulator_settings` (function scope): Django settings pointing the store at that emulator with
  the emulator's seeded credentials.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from storefront import processes
from tests.support.wait import wait_for

START_TIMEOUT = 20.0

# The emulator's seeded credentials (banq_emulator/defaults.py; settings.py repeats them).
EMULATOR_CREDENTIALS = {
    "BANQ_CLIENT_ID": "emulator-client-id",
    "BANQ_USERNAME": "api-user@emulator.banq.test",
    "BANQ_PASSWORD": "emulator-password",
    "BANQ_MERCHANT_GUID": "6f1c2b9e-3d4a-4c5b-8e7f-9a0b1c2d3e4f",
    "BANQ_ACCOUNT_SPACE_ID": "3a7d9c1e-5b2f-4e8a-9c6d-0f1e2d3c4b5a",
}
FOREIGN_BANQ_GUID = "0e2d4c6b-8a9f-4b1c-9d3e-5f7a6b8c9d0e"


class EmulatorHandle:
    """Talks to a running emulator through its control API (`/_emulator/api/`)."""

    def __init__(self, url: str, process: subprocess.Popen | None = None):
        self.url = url.rstrip("/")
        self.api_url = f"{self.url}/api/v1"
        self.token_url = f"{self.url}/oauth/token"
        self.widget_url = f"{self.url}/widget/ecommerce.js"
        self.control_url = f"{self.url}/_emulator/api"
        self.process = process
        self.http = requests.Session()

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = self.http.request(method, f"{self.control_url}/{path}", json=json, timeout=10)
        if response.status_code >= 400:
            raise AssertionError(
                f"emulator {method} {path} -> {response.status_code}: {response.text[:500]}"
            )
        return response.json()["data"]

    def reset(self, seed: int | None = None) -> dict[str, Any]:
        """Clear payments, deliveries, tokens; faults and webhook config back to start-up values.
        With `seed`, the id generator is reseeded too (deterministic ids from here on)."""
        return self._call("POST", "reset", {} if seed is None else {"seed": seed})

    def state(self) -> dict[str, Any]:
        return self._call("GET", "state")

    def payments(self) -> list[dict[str, Any]]:
        return self._call("GET", "payments")

    def payment(self, payment_id: str) -> dict[str, Any]:
        for payment in self.payments():
            if payment["id"] == payment_id:
                return payment
        raise AssertionError(f"emulator has no payment {payment_id}")

    def complete(self, payment_id: str) -> dict[str, Any]:
        return self._call("POST", f"payments/{payment_id}/complete")

    def fail(self, payment_id: str, reason: str = "InsufficientBalance") -> dict[str, Any]:
        return self._call("POST", f"payments/{payment_id}/fail", {"reason": reason})

    def deliveries(self) -> list[dict[str, Any]]:
        return self._call("GET", "deliveries")

    def resend(self, delivery_id: str) -> dict[str, Any]:
        return self._call("POST", f"deliveries/{delivery_id}/resend")

    def wait_for_deliveries(
        self, n: int, timeout: float = 5, *, settled: bool = True
    ) -> list[dict[str, Any]]:
        """Wait until at least n deliveries exist and (by default) none is still pending.
        Returns them; raises AssertionError on timeout."""
        found: list[dict[str, Any]] = []

        def settled_deliveries() -> list[dict[str, Any]]:
            found[:] = self.deliveries()
            if len(found) >= n and (not settled or all(d["status"] != "pending" for d in found)):
                return found
            return []

        return wait_for(
            settled_deliveries,
            timeout=timeout,
            interval=0.02,
            what=lambda: (
                f"{n} settled deliveries, got: "
                + ", ".join(f"{d['resourceType']}:{d['status']}" for d in found)
            ),
        )

    def next_installment(
        self, payment_id: str, *, fail: bool = False, reason: str | None = None, force: bool = False
    ) -> dict[str, Any]:
        """Charge a paid recurring payment's next installment now (``force``: even a cancelled
        one); returns the transaction."""
        body: dict[str, Any] = {"fail": fail}
        if force:
            body["force"] = True
        if reason is not None:
            body["reason"] = reason
        return self._call("POST", f"payments/{payment_id}/next-installment", body)

    def set_installment_clock(self, seconds: float | None) -> dict[str, Any]:
        """Fire installments every `seconds` real seconds per period (None: off)."""
        return self._call("POST", "installment-clock", {"seconds": seconds})

    def log(self) -> str:
        """What the emulator process wrote to stderr so far (its log)."""
        path = getattr(self.process, "log_path", None)
        return Path(path).read_text() if path else ""

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "faults")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Merge the given faults into the current ones (PATCH). Returns all faults."""
        return self._call("PATCH", "faults", faults)

    def set_webhook_config(
        self,
        url: str,
        enabled: bool = True,
        retry_count: int = 5,
        types: Iterable[str] = ("payment", "transaction"),
    ) -> dict[str, Any]:
        """Register the merchant space's webhook config directly (no token needed)."""
        return self._call(
            "POST",
            "webhook-config",
            {
                "url": url,
                "enabled": enabled,
                "retryCount": retry_count,
                "webHookTypes": list(types),
            },
        )

    def webhook_config(self) -> dict[str, Any] | None:
        return self._call("GET", "webhook-config")


def start_emulator(*args: str, module: str = "banq_emulator") -> tuple[subprocess.Popen, str]:
    """Start `python -m banq_emulator --port 0 ...` (or another ``module`` name for it); return the
    process and its base URL. The process's stderr (its log) goes to the file named by
    `process.log_path`."""
    log = tempfile.NamedTemporaryFile(prefix="banq-emulator-", suffix=".log", delete=False)  # noqa: SIM115
    process = processes.start(
        [sys.executable, "-m", module, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    process.log_path = log.name  # type: ignore[attr-defined]
    first_line: list[str] = []
    ready = threading.Event()

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:  # keep draining so the pipe never fills
            if not first_line:
                first_line.append(line.strip())
                ready.set()
        ready.set()

    threading.Thread(target=read_stdout, daemon=True).start()
    ready.wait(START_TIMEOUT)
    prefix = "banq emulator listening on "
    if not first_line or not first_line[0].startswith(prefix):
        process.kill()
        process.wait(5)
        raise RuntimeError(
            f"banq emulator did not start (log {log.name}): {Path(log.name).read_text()[-2000:]}"
        )
    return process, first_line[0][len(prefix) :]


def stop_emulator(process: subprocess.Popen) -> None:
    processes.stop(process)


@pytest.fixture(scope="session")
def _banq_emulator_process() -> Iterator[EmulatorHandle]:
    process, url = start_emulator("--seed", "1234", "--retry-backoff", "0.05")
    try:
        yield EmulatorHandle(url, process)
    finally:
        stop_emulator(process)


@pytest.fixture
def banq_emulator(_banq_emulator_process: EmulatorHandle) -> Iterator[EmulatorHandle]:
    """The session's emulator, reset before (and after) each test."""
    handle = _banq_emulator_process
    assert handle.process is None or handle.process.poll() is None, "banq emulator died"
    handle.reset()
    yield handle
    handle.reset()


@pytest.fixture
def emulator_settings(settings, banq_emulator: EmulatorHandle):
    """Point the store at the test emulator, with the emulator's seeded credentials."""
    settings.BANQ_ENVIRONMENT = "emulator"
    settings.BANQ_EMULATED = True
    settings.BANQ_EMULATOR_URL = banq_emulator.url
    settings.BANQ_TOKEN_URL = banq_emulator.token_url
    settings.BANQ_API_URL = banq_emulator.api_url
    settings.BANQ_WIDGET_URL = banq_emulator.widget_url
    for name, value in EMULATOR_CREDENTIALS.items():
        setattr(settings, name, value)
    settings.BANQ_TOKEN_FIELD_STYLE = "username"
    settings.BANQ_AUDIENCE = "https://banq.com/open/api/"
    return settings
