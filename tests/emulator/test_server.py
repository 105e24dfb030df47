"""The emulator's HTTP server: backlog, keep-alive, one send per response, no Nagle delay."""

from __future__ import annotations

import socket
import statistics
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from banq_emulator.http import LISTEN_BACKLOG, EmulatorHTTPServer, Response, make_http_server
from tests.emulator.conftest import auth
from tests.support.emulator import start_emulator, stop_emulator

pytestmark = pytest.mark.integration


def _connect(emulator) -> socket.socket:
    parts = urlsplit(emulator.url)
    return socket.create_connection((parts.hostname, parts.port), timeout=5)


def _read_response(sock: socket.socket, buffered: bytes = b"") -> tuple[bytes, bytes, bytes]:
    """One response off the socket: (head, body, bytes already read past it)."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        rest += chunk
    return head, rest[:length], rest[length:]


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _state_request(version: str = "HTTP/1.1", extra: str = "") -> bytes:
    return f"GET /_emulator/api/state {version}\r\nHost: emulator\r\n{extra}\r\n".encode()


def test_listen_backlog_is_large():
    assert EmulatorHTTPServer.request_queue_size == LISTEN_BACKLOG >= 128


def test_connections_queue_up_while_the_server_is_busy():
    # Bound but not accepting yet (as when every thread is busy): with a backlog of 5 the
    # kernel drops the 7th handshake onwards; here 100 complete and are all answered later.
    server = make_http_server(lambda request: Response.json({"data": "ok"}), "127.0.0.1", 0)
    port = server.server_address[1]
    sockets = []
    try:
        for _ in range(100):
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n")
            sockets.append(sock)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
        heads = [_read_response(sock)[0].split(b"\r\n", 1)[0] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
        server.shutdown()
        server.server_close()

    assert heads == [b"HTTP/1.1 200 OK"] * 100


def test_sixty_concurrent_new_connections_are_all_answered(banq_emulator):
    count = 60
    barrier = threading.Barrier(count)
    results: list[int | str] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        barrier.wait()
        try:  # a new connection per call: each one goes through the listen queue
            code: int | str = requests.post(
                f"{banq_emulator.control_url}/faults", json={"latency_ms": 0}, timeout=10
            ).status_code
        except requests.RequestException as exc:
            code = type(exc).__name__
        with lock:
            results.append(code)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert results == [200] * count


def test_keep_alive_serves_several_requests_on_one_connection(banq_emulator):
    with _connect(banq_emulator) as sock:
        answers = []
        for _ in range(3):
            sock.sendall(_state_request())
            head, body, rest = _read_response(sock)
            answers.append((head.split(b"\r\n", 1)[0], b"Connection: close" in head, rest))

    assert answers == [(b"HTTP/1.1 200 OK", False, b"")] * 3


def test_pipelined_requests_are_answered_in_order(banq_emulator):
    with _connect(banq_emulator) as sock:
        sock.sendall(
            _state_request() + b"GET /_emulator/api/faults HTTP/1.1\r\nHost: emulator\r\n\r\n"
        )
        _, first, rest = _read_response(sock)
        _, second, _ = _read_response(sock, rest)

    assert b'"apiUrl"' in first
    assert b'"latency_ms"' in second


@pytest.mark.parametrize(
    ("request_bytes", "keeps_open"),
    [
        (_state_request(extra="Connection: close\r\n"), False),
        (_state_request("HTTP/1.0"), False),
        (_state_request("HTTP/1.0", "Connection: keep-alive\r\n"), True),
        (_state_request(), True),
    ],
)
def test_connection_header_and_version_decide_keep_alive(banq_emulator, request_bytes, keeps_open):
    with _connect(banq_emulator) as sock:
        sock.sendall(request_bytes)
        head, body, _ = _read_response(sock)
        if keeps_open:
            sock.sendall(_state_request())
            again, _, _ = _read_response(sock)
            assert again.startswith(b"HTTP/1.1 200")
        else:
            assert b"Connection: close" in head
            assert _closed_by_server(sock)
    assert head.startswith(b"HTTP/1.1 200")
    assert body.startswith(b'{"data"')


def test_each_response_arrives_in_one_piece(banq_emulator, api_token, payment_id):
    request = (
        f"GET /api/v1/payments/{payment_id} HTTP/1.1\r\nHost: emulator\r\n"
        f"Authorization: Bearer {api_token}\r\n\r\n"
    ).encode()
    with _connect(banq_emulator) as sock:
        for _ in range(5):
            sock.sendall(request)
            first = sock.recv(65536)  # headers and body were written with one send
            head, _, body = first.partition(b"\r\n\r\n")
            length = int(
                next(h for h in head.split(b"\r\n") if h.startswith(b"Content-Length")).split(b":")[
                    1
                ]
            )
            assert len(body) == length
            assert payment_id.encode() in body


def test_an_idle_api_call_takes_well_under_the_delayed_ack(banq_emulator, api_token, payment_id):
    # With Nagle's algorithm on and headers and body sent apart, every call waited ~40 ms.
    session = requests.Session()
    url = f"{banq_emulator.api_url}/payments/{payment_id}"
    for _ in range(5):
        session.get(url, headers=auth(api_token), timeout=5)
    times = []
    for _ in range(40):
        started = time.perf_counter()
        response = session.get(url, headers=auth(api_token), timeout=5)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200

    assert statistics.median(times) < 0.010


def test_a_malformed_request_gets_400_and_the_connection_closes(banq_emulator):
    with _connect(banq_emulator) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        head, body, _ = _read_response(sock)
        closed = _closed_by_server(sock)

    assert head.startswith(b"HTTP/1.1 400")
    assert b'"error"' in body
    assert closed


def test_too_large_a_body_is_413(banq_emulator):
    with _connect(banq_emulator) as sock:
        sock.sendall(
            b"POST /_emulator/api/reset HTTP/1.1\r\nHost: e\r\nContent-Length: 99999999\r\n\r\n"
        )
        head, _, _ = _read_response(sock)

    assert head.startswith(b"HTTP/1.1 413")


def test_a_chunked_body_is_read(banq_emulator):
    with _connect(banq_emulator) as sock:
        sock.sendall(
            b"PATCH /_emulator/api/faults HTTP/1.1\r\nHost: e\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'7\r\n{"laten\r\n10\r\ncy_ms": 0, "erro\r\nb\r\nr_rate": 0}\r\n0\r\n\r\n'
        )
        head, body, _ = _read_response(sock)

    assert head.startswith(b"HTTP/1.1 200"), body
    assert b'"error_rate": 0' in body


def test_expect_100_continue_is_honoured(banq_emulator):
    body = b'{"latency_ms": 0}'
    with _connect(banq_emulator) as sock:
        sock.sendall(
            b"PATCH /_emulator/api/faults HTTP/1.1\r\nHost: e\r\nExpect: 100-continue\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        interim = sock.recv(65536)
        sock.sendall(body)
        head, _, _ = _read_response(sock)

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert head.startswith(b"HTTP/1.1 200")


def test_the_first_command_name_still_starts_the_emulator():
    """`python -m banq.emulator` (its name before it became the package banq_emulator)."""
    process, url = start_emulator(module="banq.emulator")
    try:
        answer = requests.get(f"{url}/_emulator/api/state", timeout=5)
    finally:
        stop_emulator(process)

    assert answer.status_code == 200
    assert process.returncode == 0
