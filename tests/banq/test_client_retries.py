"""The client's retries (urllib3's Retry on the session's adapters) against real sockets.

``responses`` raises connection errors and timeouts above urllib3, where no retry happens, so
these tests run a tiny HTTP server on loopback that misbehaves a given number of times and counts
the connections and requests it saw.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable

import pytest
from django.core.cache import cache

from banq.client import banq_budget, get_banq_client
from banq.exceptions import BanqUnavailable
from tests.support.banq_api import PAYMENT_ID, payment_payload, token_payload

TOKEN = json.dumps(token_payload()).encode()
PAYMENT = json.dumps(payment_payload(), default=str).encode()


def _answer(conn: socket.socket, status: str, body: bytes, headers: str = "") -> None:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{headers}\r\n"
    )
    conn.sendall(head.encode() + body)


class FlakyBanq:
    """Answers ``POST /oauth/token`` and ``GET /api/v1/payments/...``; ``misbehave(n, conn,
    request_line)`` decides for the first calls what goes wrong (return True when it handled the
    connection)."""

    def __init__(self, misbehave: Callable[[int, socket.socket, str], bool]) -> None:
        self.misbehave = misbehave
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            line = data.split(b"\r\n", 1)[0].decode(errors="replace")
            if not line:
                return
            if line.startswith("POST /oauth/token"):
                _answer(conn, "200 OK", TOKEN)
                return
            with self.lock:
                self.requests.append(line)
                n = len(self.requests)
            if not self.misbehave(n, conn, line):
                _answer(conn, "200 OK", PAYMENT)

    def close(self) -> None:
        self.stopping = True
        self.sock.close()


@pytest.fixture
def flaky(settings):
    servers: list[FlakyBanq] = []

    def start(misbehave) -> FlakyBanq:
        server = FlakyBanq(misbehave)
        servers.append(server)
        settings.BANQ_TOKEN_URL = f"{server.url}/oauth/token"
        settings.BANQ_API_URL = f"{server.url}/api/v1"
        settings.BANQ_RETRY_BACKOFF = 0.01
        cache.clear()
        return server

    yield start
    for server in servers:
        server.close()


def test_a_dropped_connection_is_retried_then_succeeds(flaky, settings):
    settings.BANQ_RETRIES = 2
    server = flaky(lambda n, conn, line: n == 1)  # the first call: closed without an answer

    payment = get_banq_client().get_payment(PAYMENT_ID)

    assert payment.id == PAYMENT_ID
    assert len(server.requests) == 2


def test_a_read_timeout_is_retried_then_raises_unavailable(flaky, settings):
    settings.BANQ_RETRIES = 1
    settings.BANQ_READ_TIMEOUT = 0.2

    def silent(n, conn, line):
        time.sleep(0.5)  # longer than the read timeout
        return True

    server = flaky(silent)

    with pytest.raises(BanqUnavailable):
        get_banq_client().get_payment(PAYMENT_ID)
    assert len(server.requests) == 2


def test_retry_after_is_honoured_when_short(flaky, settings):
    settings.BANQ_RETRIES = 1
    seen: list[float] = []

    def busy(n, conn, line):
        seen.append(time.monotonic())
        if n == 1:
            _answer(conn, "503 Service Unavailable", b"{}", "Retry-After: 1\r\n")
            return True
        return False

    flaky(busy)

    assert get_banq_client().get_payment(PAYMENT_ID).id == PAYMENT_ID
    assert seen[1] - seen[0] >= 0.9


def test_a_long_retry_after_ends_the_retries(flaky, settings):
    settings.BANQ_RETRIES = 3

    def busy(n, conn, line):
        _answer(conn, "503 Service Unavailable", b"{}", "Retry-After: 3600\r\n")
        return True

    server = flaky(busy)
    started = time.monotonic()

    with pytest.raises(BanqUnavailable) as info:
        get_banq_client().get_payment(PAYMENT_ID)
    assert info.value.status_code == 503
    assert len(server.requests) == 1
    assert time.monotonic() - started < 5


def test_in_request_calls_are_not_retried(flaky, settings):
    settings.BANQ_RETRIES = 3
    server = flaky(lambda n, conn, line: True)  # never answers properly

    with pytest.raises(BanqUnavailable):
        get_banq_client(in_request=True).get_payment(PAYMENT_ID)
    assert len(server.requests) == 1


def test_a_budget_caps_the_total_time(flaky, settings):
    settings.BANQ_RETRIES = 0
    settings.BANQ_READ_TIMEOUT = 20

    def silent(n, conn, line):
        time.sleep(2)
        return True

    flaky(silent)
    started = time.monotonic()

    with pytest.raises(BanqUnavailable), banq_budget(0.5):
        get_banq_client().get_payment(PAYMENT_ID)
    assert time.monotonic() - started < 1.5


def test_a_spent_budget_sends_nothing(flaky, settings):
    server = flaky(lambda n, conn, line: False)
    client = get_banq_client()
    client.get_token()

    with pytest.raises(BanqUnavailable, match="no time left"), banq_budget(0):
        client.get_payment(PAYMENT_ID)
    assert server.requests == []
