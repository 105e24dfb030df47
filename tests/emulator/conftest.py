"""Helpers for the emulator tests: tokens and a local webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.support import wait

OPEN_API_BODY = {
    "client_id": "emulator-client-id",
    "username": "api-user@emulator.banq.test",
    "password": "emulator-password",
    "audience": "https://banq.com/open/api/",
    "grant_type": "password",
}
MERCHANT_BODY = {
    "client_id": "kFLEhEsxxBWCf0X19hAIjbzYaSyn2cim",
    "username": "merchant@emulator.banq.test",
    "password": "merchant-password",
    "audience": "https://banq.com/api",
    "scope": "offline_access",
    "grant_type": "password",
}
MERCHANT_GUID = "6f1c2b9e-3d4a-4c5b-8e7f-9a0b1c2d3e4f"
ACCOUNT_SPACE_ID = "3a7d9c1e-5b2f-4e8a-9c6d-0f1e2d3c4b5a"


def get_token(emulator, body: dict[str, Any] | None = None) -> str:
    response = requests.post(emulator.token_url, json=body or OPEN_API_BODY, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_link(emulator, token: str, **overrides: Any) -> requests.Response:
    body: dict[str, Any] = {
        "destination": {"banqGuid": MERCHANT_GUID},
        "funds": 19.9,
        "comment": "Order 42: a teapot",
        "externalOrderCode": "ORD-42",
        "frequency": "once",
        "startDate": None,
        "endDate": None,
    }
    body.update(overrides)
    return requests.post(
        f"{emulator.api_url}/payments/get-paid-link", json=body, headers=auth(token), timeout=5
    )


@pytest.fixture
def api_token(banq_emulator) -> str:
    return get_token(banq_emulator)


@pytest.fixture
def payment_id(banq_emulator, api_token) -> str:
    response = create_link(banq_emulator, api_token)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


class Receiver:
    """A local webhook endpoint: answers `fail_first` requests with 500, then 200."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.fail_first = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.received.append(json.loads(body))
                    receiver.paths.append(self.path)
                    failing = len(receiver.received) <= receiver.fail_first
                status = 500 if failing else 200
                text = b"nope" if failing else b"ok"
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least n events arrived; returns them (AssertionError on timeout)."""

        def arrived() -> list[dict[str, Any]] | None:
            with self.lock:
                return list(self.received) if len(self.received) >= n else None

        return wait.wait_for(
            arrived, timeout=timeout, what=lambda: f"{n} webhook requests, got {len(self.received)}"
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()
