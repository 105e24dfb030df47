"""The internals of daphne, Twisted, autobahn, Django and django-tasks-db that the store relies on.

``storefront/serve.py`` replaces names inside daphne and autobahn and overrides methods of
daphne's and Twisted's request classes; ``storefront/handler.py`` runs the steps of Django's
``ASGIHandler.handle`` its own way; ``orders/outbox.py`` writes django-tasks-db's task row
itself. None of that is those packages' public API, and pyproject.toml pins each package to the
minor version these tests were written against. Each upstream function
the store overrides, replaces a name in, or copies is fingerprinted here (a hash of its source):
when an upgrade changes one, its test fails and says what to re-check in the store, and which
fingerprint to write here once that is done. The behaviour itself is tested elsewhere
(tests/production/test_body_limits.py, test_edge.py, test_logs.py, tests/storefront/test_serve.py,
test_shutdown.py).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import textwrap
from dataclasses import dataclass
from importlib.metadata import version

import pytest

PACKAGES = {
    "daphne": "daphne",
    "twisted": "Twisted",
    "autobahn": "autobahn",
    "django": "Django",
    "channels": "channels",
    "django_tasks_db": "django-tasks-db",
}


@dataclass(frozen=True)
class Internal:
    target: str  # dotted path to a function, method or class
    fingerprint: str  # the first 16 hex digits of the sha256 of its source
    recheck: str  # what in the store depends on it

    @property
    def package(self) -> str:
        return self.target.split(".")[0]


def resolve(target: str):
    """The object at a dotted path: the longest importable module, then attributes."""
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
        return found
    raise ImportError(target)


def fingerprint(target: str) -> str:
    source = textwrap.dedent(inspect.getsource(resolve(target)))
    return hashlib.sha256(source.encode()).hexdigest()[:16]


SERVE = "storefront/serve.py"
INTERNALS = [
    # --- daphne: the names main() replaces, and the classes it subclasses -------------------
    Internal(
        "daphne.cli.CommandLineInterface.run",
        "5d9622a3fd4b24d8",
        f"{SERVE} main(): the server must still come from self.server_class (DrainingServer) "
        "and the access log from the module-level name AccessLogGenerator (RedactingAccessLog)",
    ),
    Internal(
        "daphne.access.AccessLogGenerator.__call__",
        "39f1a5850fe8eeaa",
        f"{SERVE} RedactingAccessLog.write_entry: still called with host, date, request, "
        "status, length, ident, user for every logged request",
    ),
    Internal(
        "daphne.server.Server.run",
        "ab2afc417659bb19",
        f"{SERVE} DrainingServer.run and main(): the factory must still be built from the "
        "module-level name HTTPFactory (LimitedHTTPFactory) and reactor.run must still take "
        "self.signal_handlers",
    ),
    Internal(
        "daphne.server.Server.listen_success",
        "a1278a63ad15edf7",
        f"{SERVE} DrainingServer.listen_success: still called with each listening port",
    ),
    Internal(
        "daphne.server.Server.stop",
        "b0846e0d02e61aeb",
        f"{SERVE} DrainingServer.drain: stop() still stops the reactor",
    ),
    Internal(
        "daphne.server.Server.create_application",
        "6d6da219bd73c133",
        f"{SERVE} DrainingServer._busy_requests: self.connections[protocol]"
        '["application_instance"] is still the request\'s future',
    ),
    Internal(
        "daphne.http_protocol.HTTPFactory.buildProtocol",
        "46e23f742b61766a",
        f"{SERVE} LimitedHTTPFactory: the protocol it returns still takes a requestFactory",
    ),
    Internal(
        "daphne.http_protocol.WebRequest.handle_reply",
        "4039b244e0b61b7c",
        f"{SERVE} LimitedWebRequest.handle_reply: takes the same ASGI messages",
    ),
    Internal(
        "daphne.http_protocol.WebRequest.connectionLost",
        "de5ba558e13211b9",
        f"{SERVE} LimitedWebRequest.connectionLost: a refused request skips it (it was never "
        "handed to the app) and calls twisted's Request.connectionLost instead",
    ),
    # --- Twisted: the request and channel methods LimitedWebRequest overrides or reads -----
    Internal(
        "twisted.web.http.Request.gotLength",
        "33e3062d638191a9",
        f"{SERVE} LimitedWebRequest.gotLength: still called with the declared Content-Length "
        "(None when chunked) before the body",
    ),
    Internal(
        "twisted.web.http.Request.handleContentChunk",
        "c171516e5ca7b464",
        f"{SERVE} LimitedWebRequest.handleContentChunk: still called with each piece of body",
    ),
    Internal(
        "twisted.web.http.Request.requestReceived",
        "eb1724c9c32b9b2c",
        f"{SERVE} LimitedWebRequest.requestReceived: still called once the body is over",
    ),
    Internal(
        "twisted.web.http.Request.connectionLost",
        "95d8b7744771c148",
        f"{SERVE} LimitedWebRequest.connectionLost for a refused request",
    ),
    Internal(
        "twisted.web.http.HTTPChannel.lineReceived",
        "a1036e59284bb9cc",
        f"{SERVE} LimitedWebRequest._limit and _refuse read channel._path and channel._command, "
        "which lineReceived sets from the request line",
    ),
    Internal(
        "twisted.web.http.HTTPChannel.allContentReceived",
        "acf866dcc7e406bf",
        f"{SERVE} LimitedWebRequest: channel._path and _command live until the body is over, "
        "then requestReceived is called",
    ),
    # --- autobahn: the name defer_websocket_debug_text() replaces ---------------------------
    Internal(
        "autobahn.websocket.protocol.WebSocketProtocol._connectionMade",
        "6f363f37d56d5dfb",
        f"{SERVE} defer_websocket_debug_text: the debug line of every new connection still "
        "calls the module-level name pformat (and only formats it into a log line)",
    ),
    # --- Django: the steps storefront/handler.py runs its own way ---------------------------
    Internal(
        "django.core.handlers.asgi.ASGIHandler.handle",
        "ab2236e287c805bf",
        "storefront/handler.py StoreASGIHandler.handle and _respond: the same steps (read the "
        "body, script prefix, request_started, create_request, get_response, send, close)",
    ),
    Internal(
        "django.core.handlers.asgi.ASGIHandler.run_get_response",
        "3e3f9e6ae0246458",
        "storefront/handler.py StoreASGIHandler._respond: _handler_class and FileResponse's "
        "block_size are set as Django does",
    ),
    Internal(
        "django.core.handlers.asgi.ASGIHandler.__init__",
        "4d30812e5ed7767d",
        "storefront/handler.py StoreASGIHandler.load_middleware: Django still loads the chain "
        "through load_middleware(is_async=...)",
    ),
    Internal(
        "django.core.handlers.asgi.ASGIHandler.create_request",
        "df21dc6bab7c4018",
        "storefront/handler.py StoreASGIHandler._respond: (request, error_response) from "
        "create_request(scope, body_file)",
    ),
    # --- Channels: the validator storefront/edge.py subclasses ------------------------------
    Internal(
        "channels.security.websocket.OriginValidator",
        "6e67198f24ffe4f2",
        "storefront/edge.py WebSocketOriginCheck: __call__ still reads the Origin header and "
        "asks valid_origin(parsed_origin), and denies with WebsocketDenier",
    ),
    # --- django-tasks-db: the task row orders/outbox.py writes itself -----------------------
    Internal(
        "django_tasks_db.backend.DatabaseBackend._task_to_db_task",
        "adee342432462eb5",
        "orders/outbox.py outbox_writes: the DBTaskResult it builds has the same fields, from "
        "the same sources, as the row this creates",
    ),
    Internal(
        "django_tasks_db.backend.DatabaseBackend.enqueue",
        "c27c2760688efa8e",
        "orders/outbox.py outbox_writes: validate_task, then the row, then task_enqueued with "
        "the row's task_result, and nothing else",
    ),
]


@pytest.mark.parametrize("internal", INTERNALS, ids=lambda i: i.target)
def test_the_internals_the_store_relies_on_are_the_ones_it_was_checked_against(internal):
    found = fingerprint(internal.target)
    package = PACKAGES[internal.package]

    assert found == internal.fingerprint, (
        f"{internal.target} changed ({package} {version(package)}). Re-check {internal.recheck}; "
        f"then set its fingerprint here to {found!r} (and the pin in pyproject.toml)."
    )


def test_the_names_the_server_replaces_are_still_there():
    from autobahn.websocket import protocol
    from daphne import cli, server
    from twisted.web import http

    assert cli.AccessLogGenerator.__module__ == "daphne.access"
    assert cli.CommandLineInterface.server_class is server.Server
    assert server.HTTPFactory.__module__ == "daphne.http_protocol"
    assert http.HTTPChannel.requestFactory is http.Request
    assert "from pprint import pformat" in inspect.getsource(protocol)


def test_every_pinned_package_is_fingerprinted():
    assert {internal.package for internal in INTERNALS} == set(PACKAGES)


def test_a_changed_function_changes_its_fingerprint(tmp_path, monkeypatch):
    """The check can fail: the fingerprint follows the source."""
    module = tmp_path / "patched_upstream.py"
    module.write_text("def hook(a, b):\n    return a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = fingerprint("patched_upstream.hook")
    module.write_text("def hook(a, b):\n    return b\n")
    importlib.invalidate_caches()
    importlib.reload(importlib.import_module("patched_upstream"))

    assert fingerprint("patched_upstream.hook") != before
