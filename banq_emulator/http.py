"""Request/response types and the emulator's HTTP/1.1 server (standard library only).

The server is a thread per connection with persistent (keep-alive) connections. Each response
goes out in one `sendall` with TCP_NODELAY set: with Nagle's algorithm on, a response written as
headers then body waits for the client's delayed ACK (about 40 ms on Linux) on every call.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import socketserver
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

access_log = logging.getLogger("banq_emulator.access")
logger = logging.getLogger(__name__)

_DEC = re.compile(r'"\\u0000DEC:(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')

MAX_LINE = 65536  # request line or one header line
MAX_HEADERS = 100
MAX_BODY = 1024 * 1024
KEEPALIVE_IDLE_S = 75.0  # an idle keep-alive connection is closed after this (nginx's default)
LISTEN_BACKLOG = 1024  # the kernel caps it at net.core.somaxconn
SERVER_NAME = "banq-emulator/1"


def _mark_decimals(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"\x00DEC:{value:f}\x00"
    if isinstance(value, dict):
        return {k: _mark_decimals(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mark_decimals(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """JSON where Decimals are plain numbers with their exact digits (19.90 stays 19.90)."""
    return _DEC.sub(r"\1", json.dumps(_mark_decimals(value)))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def is_form(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in parsed.items()}

    def json(self, *, decimals: bool = False) -> Any:
        """Parsed JSON body (floats as Decimal when asked). Raises ValueError on bad JSON."""
        text = self.body.decode("utf-8")
        if not text.strip():
            return {}
        if decimals:
            return json.loads(text, parse_float=Decimal)
        return json.loads(text)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Words for the access log instead of the bare status, for an answer that is no error.
    log_note: str = ""

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: dict[str, str] | None = None):
        return cls(
            status,
            dumps(value).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    @classmethod
    def error(cls, status: int, code: str, message: str):
        return cls.json({"error": {"code": code, "message": message}}, status)

    @classmethod
    def html(cls, text: str, status: int = 200):
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

    @classmethod
    def redirect(cls, location: str):
        return cls(303, b"", {"Location": location})


# -- the server -----------------------------------------------------------------------------

_REASONS = {s.value: s.phrase for s in HTTPStatus}
_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def encode_response(
    response: Response, *, head_only: bool, keep_alive: bool, http10: bool
) -> bytes:
    """Status line, headers and body as one buffer (one send, one TCP segment when small)."""
    lines = [
        f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}",
        f"Server: {SERVER_NAME}",
        f"Date: {_http_date()}",
    ]
    for name, value in response.headers.items():
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(response.body)}")
    if not keep_alive:
        lines.append("Connection: close")
    elif http10:
        lines.append("Connection: keep-alive")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head if head_only else head + response.body


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ConnectionHandler(socketserver.StreamRequestHandler):
    """Reads requests off one connection until the client closes it, asks for `Connection:
    close`, speaks HTTP/1.0 without keep-alive, sends a bad request or stays idle too long."""

    disable_nagle_algorithm = True  # TCP_NODELAY on the accepted socket
    timeout = KEEPALIVE_IDLE_S
    handle_request: Callable[[Request], Response]  # set on the subclass by make_server

    def handle(self) -> None:
        try:
            while self._one():
                pass
        except (TimeoutError, ConnectionError):
            pass
        except OSError as exc:  # a socket that went away underneath us
            logger.debug("Connection from %s ended: %s", self.client_address, exc)

    def _send_error(self, status: int, message: str) -> None:
        body = json.dumps({"error": {"code": "bad_request", "message": message}}).encode()
        response = Response(status, body, {"Content-Type": "application/json"})
        self.connection.sendall(
            encode_response(response, head_only=False, keep_alive=False, http10=False)
        )
        access_log.info("- - %s (%s)", status, message)

    def _one(self) -> bool:
        """Serve one request; True when the connection stays open for another."""
        rfile = self.rfile
        line = rfile.readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):  # stray blank lines between requests are allowed
            line = rfile.readline(MAX_LINE + 1)
        if not line:
            return False
        try:
            method, target, version, headers = self._head(line)
            body = self._body(headers, version)
        except BadRequest as exc:
            self._send_error(exc.status, str(exc))
            return False
        connection = headers.get("connection", "").lower()
        http10 = version == "HTTP/1.0"
        keep_alive = "keep-alive" in connection if http10 else "close" not in connection
        parts = urlsplit(target)
        request = Request(
            method=method,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True) if parts.query else {},
            headers=headers,
            body=body,
        )
        try:
            response = self.handle_request(request)
        except Exception:  # never a bare 500 page: log it and answer with the error shape
            logger.exception("Unhandled error on %s %s", method, parts.path)
            response = Response.error(500, "internal_error", "The emulator failed on this request")
        self.connection.sendall(
            encode_response(
                response, head_only=method == "HEAD", keep_alive=keep_alive, http10=http10
            )
        )
        # The path only (no query string, no headers): tokens and passwords never reach the log.
        if response.log_note:
            access_log.info("%s %s: %s", method, parts.path, response.log_note)
        else:
            access_log.info("%s %s %s", method, parts.path, response.status)
        return keep_alive

    def _head(self, line: bytes) -> tuple[str, str, str, dict[str, str]]:
        if len(line) > MAX_LINE:
            raise BadRequest(414, "Request line too long")
        words = line.decode("latin-1").split()
        if len(words) != 3:
            raise BadRequest(400, "Malformed request line")
        method, target, version = words
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise BadRequest(505, "Only HTTP/1.0 and HTTP/1.1 are supported")
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            raw = self.rfile.readline(MAX_LINE + 1)
            if len(raw) > MAX_LINE:
                raise BadRequest(431, "Header line too long")
            if raw in (b"\r\n", b"\n", b""):
                return method, target, version, headers
            name, sep, value = raw.decode("latin-1").partition(":")
            name = name.strip().lower()
            if not sep or not name:
                raise BadRequest(400, "Malformed header line")
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        raise BadRequest(431, "Too many headers")

    def _body(self, headers: dict[str, str], version: str) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._continue(headers, version)
            return self._chunked()
        raw = headers.get("content-length")
        if not raw:
            return b""
        if not raw.strip().isdigit():
            raise BadRequest(400, "Bad Content-Length")
        length = int(raw)
        if length > MAX_BODY:
            raise BadRequest(413, "Request body too large")
        if length == 0:
            return b""
        self._continue(headers, version)
        body = self.rfile.read(length)
        if len(body) < length:
            raise BadRequest(400, "Request body shorter than Content-Length")
        return body

    def _continue(self, headers: dict[str, str], version: str) -> None:
        if version == "HTTP/1.1" and headers.get("expect", "").lower() == "100-continue":
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(MAX_LINE + 1).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise BadRequest(400, "Bad chunk size") from None
            if size == 0:
                while self.rfile.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailers are ignored
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise BadRequest(413, "Request body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(MAX_LINE + 1)  # the CRLF after each chunk


class EmulatorHTTPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True  # keep-alive connections never hold up a shutdown
    request_queue_size = LISTEN_BACKLOG


class EmulatorHTTPServer6(EmulatorHTTPServer):
    address_family = socket.AF_INET6


def make_http_server(
    handle_request: Callable[[Request], Response], host: str, port: int
) -> EmulatorHTTPServer:
    """Bind (raises OSError) and return a server that calls handle_request for each request."""
    handler = type(
        "Handler", (ConnectionHandler,), {"handle_request": staticmethod(handle_request)}
    )
    server_class = EmulatorHTTPServer6 if ":" in host else EmulatorHTTPServer  # IPv6 literal
    return server_class((host.strip("[]"), port), handler)
