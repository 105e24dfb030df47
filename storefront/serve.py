"""Run daphne with a clean shutdown, an access log that never prints secrets, and one log format.

    python -m storefront.serve -b 127.0.0.1 -p 8000 storefront.asgi:application

Takes daphne's own command-line options. The differences from ``daphne``:

- **Shutdown.** On SIGTERM or Ctrl-C the server stops listening, lets the HTTP requests in flight
  finish (up to ``DRAIN_SECONDS``), closes the WebSockets, and exits. Plain daphne stops its event
  loop at once: a request cut short leaves a worker thread of Django's sync code waiting in
  asgiref for a loop that no longer runs, and the interpreter then waits for that thread forever
  (until something kills the process). Here no request is cut while it can finish, and when one
  had to be cut, the process leaves without waiting for its thread.
- **Access log.** It hides the webhook token in ``/webhooks/banq/<token>/...`` and the value of
  signed order-link keys (``?key=...``), which daphne would otherwise write out verbatim.
- **Format.** daphne's own lines and the access log use the store's one format (``LOG_FORMAT``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from daphne import cli
from daphne.access import AccessLogGenerator
from daphne.http_protocol import WebRequest
from daphne.server import Server

from storefront.redaction import redact as redact_path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DRAIN_SECONDS = 10.0  # how long requests in flight may take to finish at shutdown
EXIT_GRACE_SECONDS = 3.0  # then how long threads get before the process exits anyway

logger = logging.getLogger("storefront.serve")


class RedactingAccessLog(AccessLogGenerator):
    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None):
        when = date.strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        self.stream.write(
            f'{when} INFO storefront.access: {host} "{redact_path(request)}" '
            f"{status or '-'} {length or '-'}\n"
        )


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


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--log-fmt" not in args:
        args = ["--log-fmt", LOG_FORMAT, *args]
    cli.AccessLogGenerator = RedactingAccessLog  # daphne builds its logger from this name
    cli.CommandLineInterface.server_class = DrainingServer
    command = cli.CommandLineInterface()
    command.run(args)
    if getattr(command.server, "cut_short", 0):
        _leave_without_stuck_threads()


if __name__ == "__main__":
    main()
