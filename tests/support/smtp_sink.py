"""A mail server for tests: accepts every message over real SMTP and remembers it.

``smtp_sink`` (function-scoped) runs ``SmtpSink`` on a free port in a thread; ``.url`` is an
``EMAIL_URL`` for a store or worker process (``smtp://127.0.0.1:PORT``). ``stall`` seconds pass
between the client's ``DATA`` and the server's go-ahead, and ``.in_data`` is set meanwhile: a
test can kill the sender exactly while an e-mail is on its way. A message counts as delivered
only once the server answered 250 to its end of data, as with a real mail server; it is then in
``.messages`` (``Delivered``: when, recipients, subject, Message-ID).
"""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Delivered:
    at: float  # time.time() when the server accepted it
    recipients: tuple[str, ...]
    subject: str
    message_id: str


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())
        self.wfile.flush()

    def handle(self) -> None:
        try:
            self._converse()
        except OSError:  # the client died mid-conversation (kill -9): nothing was delivered
            return

    def _converse(self) -> None:
        self.reply("220 sink ESMTP")
        recipients: list[str] = []
        for raw in self.rfile:
            command = raw.decode("ascii", "replace").strip()
            verb = command[:4].upper()
            if verb == "QUIT":
                self.reply("221 bye")
                return
            if verb == "RCPT":
                recipients.append(command.partition(":")[2].strip().strip("<>"))
            if verb == "MAIL":
                recipients = []
            if verb != "DATA":
                self.reply("250 ok")
                continue
            self.server.sink.in_data.set()
            time.sleep(self.server.sink.stall)
            self.server.sink.in_data.clear()
            self.reply("354 go ahead")
            body = self._data()
            if body is None:
                return  # the client went away mid-message: nothing was delivered
            self.server.sink.deliver(recipients, body)
            self.reply("250 delivered")

    def _data(self) -> bytes | None:
        lines = []
        for raw in self.rfile:
            if raw in (b".\r\n", b".\n"):
                return b"".join(lines)
            lines.append(raw[1:] if raw.startswith(b"..") else raw)
        return None


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    sink: SmtpSink


class SmtpSink:
    def __init__(self, *, stall: float = 0.0) -> None:
        self.stall = stall
        self.in_data = threading.Event()
        self.messages: list[Delivered] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Session)
        self._server.sink = self
        self.url = f"smtp://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def deliver(self, recipients: list[str], body: bytes) -> None:
        parsed = email.message_from_bytes(body, policy=email.policy.default)
        delivered = Delivered(
            at=time.time(),
            recipients=tuple(recipients),
            subject=str(parsed["Subject"] or ""),
            message_id=str(parsed["Message-ID"] or ""),
        )
        with self._lock:
            self.messages.append(delivered)

    def delivered(self) -> list[Delivered]:
        with self._lock:
            return list(self.messages)

    def start(self) -> SmtpSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()
