"""Run daphne with a clean shutdown, an access log that never prints secrets, and one log format.

    python -m storefront.serve -b 127.0.0.1 -p 8000 storefront.asgi:application

Takes daphne's own command-line options. The differences from ``daphne`` rely on daphne's,
Twisted's and autobahn's internals: tests/storefront/test_third_party_internals.py fingerprints
each, and pyproject.toml pins those packages. The differences:

- **Shutdown.** On SIGTERM or Ctrl-C the server stops listening, lets the HTTP requests in flight
  finish (up to ``DRAIN_SECONDS``), closes the WebSockets, and exits. Plain daphne stops its event
  loop at once: a request cut short leaves a worker thread of Django's sync code waiting in
  asgiref for a loop that no longer runs, and the interpreter then waits for that thread forever
  (until something kills the process). Here no request is cut while it can finish, and when one
  had to be cut, the process leaves without waiting for its thread.
- **Access log.** It hides the webhook token in ``/webhooks/banq/<token>/...`` and the value of
  signed order-link keys (``?key=...``), which daphne would otherwise write out verbatim.
- **Format.** daphne's own lines and the access log use the store's one format: text, or JSON
  lines on stdout with the request id when ``LOG_FORMAT=json`` (``storefront.logs``).
- **Checks first.** Django's system checks run before the server listens (with the deployment
  checks outside emulator mode); an error (banq credentials missing, the secret key missing or
  public, DEBUG on outside emulator mode) is printed and the process exits with status 1.
- **WebSocket connects without a debug line nobody reads.** autobahn pretty-prints its whole
  configuration on every new connection for a debug log line that is almost never written; here
  that text is only built if the line is (about 0.3 ms, a sixth of a connect's CPU otherwise:
  docs/benchmarks.md).
- **Body limits as the body arrives.** A request whose ``Content-Length`` is over its path's
  limit (``storefront.limits``) is answered 413 as soon as its headers are in, and a chunked body
  as soon as it passes the limit; the rest of the body is read and dropped, never kept, and the
  connection closes. Plain daphne holds the whole body in memory before the app sees any of it.
"""

from __future__ import annotations

import functools
import logging
import os
import pprint
import signal
import sys
import threading
import time

import daphne.server
from daphne import cli
from daphne.access import AccessLogGenerator
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from twisted.web import http

from storefront.edge import TrustedProxies, too_large_body
from storefront.limits import UNLIMITED, body_limit_for_target
from storefront.logs import json_line
from storefront.redaction import redact as redact_path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DRAIN_SECONDS = 10.0  # how long requests in flight may take to finish at shutdown
EXIT_GRACE_SECONDS = 3.0  # then how long threads get before the process exits anyway
LINGER_SECONDS = 10.0  # how long a refused body is read (and dropped) so the client sees the 413

logger = logging.getLogger("storefront.serve")
# The request id of the response being logged (everything here runs in the reactor's thread).
_logging = {"request_id": ""}


def _json_logs() -> bool:
    try:
        from django.conf import settings

        return getattr(settings, "LOG_FORMAT", "plain") == "json"
    except Exception:  # settings not configured: the default format
        return False


class RedactingAccessLog(AccessLogGenerator):
    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None):
        request = redact_path(request)
        if _json_logs():
            self.stream.write(
                json_line(
                    level="INFO",
                    logger="storefront.access",
                    message=f'{host} "{request}" {status or "-"} {length or "-"}',
                    client=host,
                    request=request,
                    status=status,
                    size=length,
                    request_id=_logging["request_id"],
                )
                + "\n"
            )
            return
        when = date.strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        self.stream.write(
            f'{when} INFO storefront.access: {host} "{request}" {status or "-"} {length or "-"}\n'
        )


class LimitedWebRequest(WebRequest):
    """daphne's request with its path's body limit applied while the body arrives (module doc)."""

    body_limit: int | None = None
    refused = False
    received = 0
    request_id = ""

    def gotLength(self, length):
        # HTTP/1.1 only (behind nginx, always); over HTTP/2 the ASGI edge still refuses.
        if length and self._http1() and length > self._limit():  # None: chunked, see below
            self._refuse()
            length = 0
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.refused:
            return  # read and dropped
        self.received += len(data)
        if self._http1() and self.received > self._limit():
            self._refuse()
            return
        super().handleContentChunk(data)

    def _http1(self) -> bool:
        return isinstance(self.channel, http.HTTPChannel)

    def requestReceived(self, command, path, version):
        if self.refused:  # the whole body has gone by: the 413 is out, close
            if self.channel is not None and self.channel.transport is not None:
                self.channel.transport.loseConnection()
            return
        super().requestReceived(command, path, version)

    def connectionLost(self, reason):
        if self.refused:  # never handed to the app, no longer in the server's books
            http.Request.connectionLost(self, reason)
            return
        super().connectionLost(reason)

    def handle_reply(self, message):
        if message.get("type") == "http.response.start":
            for name, value in message.get("headers") or ():
                if bytes(name).lower() == b"x-request-id":
                    self.request_id = bytes(value).decode("latin-1")
            self._log_the_client()
        _logging["request_id"] = self.request_id
        try:
            super().handle_reply(message)
        finally:
            _logging["request_id"] = ""

    def _limit(self) -> int:
        """The body limit of the request's path (looked up once, only for requests with a
        body)."""
        if self.body_limit is None:
            try:
                target = getattr(self.channel, "_path", b"") or b"/"
                self.body_limit = body_limit_for_target(target)
            except Exception:  # no limit of ours rather than no answer
                logger.exception("Could not work out the body limit")
                self.body_limit = UNLIMITED
        return self.body_limit

    def _log_the_client(self) -> None:
        """The access log names the client as the app saw it: behind trusted proxies, the
        address from X-Forwarded-For (``storefront.edge``), not the proxy's."""
        proxies = _trusted_proxies()
        if not proxies.enabled or not self.client_addr:
            return
        forwarded = self.requestHeaders.getRawHeaders(b"x-forwarded-for")
        if forwarded:
            peer = str(self.client_addr[0])
            client = proxies.client_address(peer, b",".join(forwarded).decode("latin-1"))
            if client != peer:
                self.client_addr = [client, 0]

    def _refuse(self) -> None:
        from twisted.internet import reactor

        self.refused = True
        self.requestHeaders.removeHeader(b"expect")  # no "100 Continue" after this answer
        self.server.connections.pop(self, None)
        body = too_large_body(self.body_limit or 0)
        transport = self.channel.transport
        transport.write(
            b"HTTP/1.1 413 Payload Too Large\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n".encode()
            + b"Connection: close\r\n\r\n"
            + body
        )
        target = (getattr(self.channel, "_path", b"") or b"").decode("latin-1")
        method = (getattr(self.channel, "_command", b"") or b"").decode("latin-1")
        peer = transport.getPeer()
        logger.warning(
            "Request body over %s bytes refused with 413 before reading it: %s %s",
            self.body_limit,
            method,
            redact_path(target),
        )
        self.server.log_action(
            "http",
            "complete",
            {
                "path": target,
                "status": 413,
                "method": method,
                "client": f"{getattr(peer, 'host', '-')}:{getattr(peer, 'port', '-')}",
                "time_taken": 0,
                "size": len(body),
            },
        )
        # The client may still be sending: what it sends is dropped as it comes, and the
        # connection closes once the body is over (requestReceived) or after LINGER_SECONDS.
        reactor.callLater(LINGER_SECONDS, transport.loseConnection)


@functools.cache
def _trusted_proxies() -> TrustedProxies:
    return TrustedProxies.from_settings()


class LimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = LimitedWebRequest
        return protocol


class DrainingServer(Server):
    """daphne's server with a graceful stop: see the module doc."""

    cut_short = 0  # requests still running when the server stopped

    def run(self):
        self._ports: list = []
        self._draining = False
        self.signal_handlers = False  # ours below, not Twisted's immediate stop
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        super().run()

    def listen_success(self, port):
        self._ports.append(port)
        super().listen_success(port)

    def _on_signal(self, signum, frame) -> None:
        from twisted.internet import reactor

        reactor.callFromThread(self.drain)

    def _busy_requests(self) -> int:
        return sum(
            1
            for protocol, details in list(self.connections.items())
            if isinstance(protocol, WebRequest)
            and details.get("application_instance") is not None
            and not details["application_instance"].done()
        )

    def drain(self) -> None:
        from twisted.internet import reactor

        if self._draining:  # a second signal: stop now
            self.stop()
            return
        self._draining = True
        for port in self._ports:
            port.stopListening()
        deadline = time.monotonic() + DRAIN_SECONDS
        logger.info("Stopping: finishing %d request(s) in flight", self._busy_requests())

        def check() -> None:
            busy = self._busy_requests()
            if busy and time.monotonic() < deadline:
                reactor.callLater(0.05, check)
                return
            if busy:
                logger.warning("Stopping with %d request(s) still running", busy)
            self.cut_short = busy
            self.stop()

        check()


def _leave_without_stuck_threads() -> None:
    """A request cut short leaves a thread waiting on the stopped loop, which can never end: give
    the others a moment, then leave without it rather than hang."""
    deadline = time.monotonic() + EXIT_GRACE_SECONDS
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def refuse_on_failing_checks() -> None:
    """Run Django's system checks (with the deployment checks outside emulator mode); on an error,
    print every message and exit with status 1 before anything listens."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")
    django.setup()
    from django.conf import settings
    from django.core.management.base import BaseCommand, SystemCheckError

    try:
        BaseCommand().check(include_deployment_checks=settings.BANQ_ENVIRONMENT != "emulator")
    except SystemCheckError as exc:
        sys.stderr.write(
            f"{exc}\n\nThe store does not start while a check fails "
            "(`python manage.py check --deploy` lists them).\n"
        )
        sys.stderr.flush()
        sys.exit(1)


class _DeferredPformat:
    """``pprint.pformat(value)``, computed only when the text is asked for."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return pprint.pformat(self.value)

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def defer_websocket_debug_text() -> None:
    """Make autobahn's per-connection debug text lazy (see the module doc)."""
    from autobahn.websocket import protocol

    protocol.pformat = _DeferredPformat  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not {"-h", "--help"} & set(args):
        refuse_on_failing_checks()
    if "--log-fmt" not in args:
        args = ["--log-fmt", LOG_FORMAT, *args]
    cli.AccessLogGenerator = RedactingAccessLog  # daphne builds its logger from this name
    cli.CommandLineInterface.server_class = DrainingServer
    daphne.server.HTTPFactory = LimitedHTTPFactory  # the server builds its factory from this name
    defer_websocket_debug_text()
    command = cli.CommandLineInterface()
    command.run(args)
    if getattr(command.server, "cut_short", 0):
        _leave_without_stuck_threads()


if __name__ == "__main__":
    main()
