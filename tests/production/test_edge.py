"""The ASGI edge (storefront/edge.py): the client's address behind trusted proxies, request ids,
413 before the body is read, and WebSocket origins compared by scheme, host and port."""

from __future__ import annotations

import ipaddress
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from orders.access import session_grant_order
from storefront.edge import StoreEdge, TrustedProxies, WebSocketOriginCheck
from storefront.limits import body_limit_for_path, body_limit_for_target
from storefront.logs import REQUEST_ID
from tests.factories import order_create

NGINX = "127.0.0.1"


def networks(*nets: str) -> TrustedProxies:
    return TrustedProxies(networks=tuple(ipaddress.ip_network(n) for n in nets))


@pytest.mark.parametrize(
    ("proxies", "peer", "forwarded_for", "client"),
    [
        # No proxy configured: X-Forwarded-For is anyone's to write, and ignored.
        (TrustedProxies(), "198.51.100.7", "203.0.113.1", "198.51.100.7"),
        # nginx alone: the address nginx appended, whatever the client wrote before it.
        (TrustedProxies(count=1), NGINX, "203.0.113.1", "203.0.113.1"),
        (TrustedProxies(count=1), NGINX, "6.6.6.6, 203.0.113.1", "203.0.113.1"),
        (TrustedProxies(count=2), NGINX, "6.6.6.6, 203.0.113.1, 10.0.0.2", "203.0.113.1"),
        (TrustedProxies(count=1), NGINX, None, NGINX),
        (TrustedProxies(count=1), NGINX, "not-an-address", NGINX),
        # Networks: the first address from the right that is not one of our proxies.
        (
            networks("127.0.0.1/32", "10.0.0.0/8"),
            NGINX,
            "6.6.6.6, 203.0.113.1, 10.1.2.3",
            "203.0.113.1",
        ),
        (networks("127.0.0.1/32"), NGINX, "[2001:db8::1]:443", "2001:db8::1"),
        (networks("127.0.0.1/32"), NGINX, "203.0.113.1:5555", "203.0.113.1"),
        (networks("127.0.0.1/32"), NGINX, "garbage, 127.0.0.1", NGINX),
        (networks("127.0.0.1/32", "10.0.0.0/8"), NGINX, "10.0.0.9", "10.0.0.9"),
        # A peer that is not one of our proxies: its header counts for nothing.
        (networks("10.0.0.0/8"), "198.51.100.7", "203.0.113.1", "198.51.100.7"),
    ],
)
def test_the_client_address_behind_trusted_proxies(proxies, peer, forwarded_for, client):
    assert proxies.client_address(peer, forwarded_for) == client


class Recorder:
    """A downstream ASGI app that records what it was given and reads the whole body."""

    def __init__(self) -> None:
        self.scope: dict | None = None
        self.request_id = ""
        self.body = b""
        self.called = False

    async def __call__(self, scope, receive, send):
        self.called = True
        self.scope = scope
        self.request_id = REQUEST_ID.get()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(app, *, path="/", headers=(), chunks=(b"",), client=(NGINX, 5000)):
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(k.encode(), v.encode()) for k, v in headers],
        "client": list(client),
    }
    incoming = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1}
        for n, chunk in enumerate(chunks)
    ]
    reads = 0
    sent: list[dict] = []

    async def receive():
        nonlocal reads
        reads += 1
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent, reads


def edge(app, settings, **config) -> StoreEdge:
    for name, value in config.items():
        setattr(settings, name, value)
    return StoreEdge(app)


@pytest.mark.asyncio
async def test_a_declared_body_over_the_paths_limit_is_413_before_anything_is_read(settings):
    inner = Recorder()
    webhook = f"/webhooks/banq/{settings.BANQ_WEBHOOK_TOKEN}/payment-status/"

    sent, reads = await call(
        edge(inner, settings), path=webhook, headers=[("content-length", str(100 * 1024 * 1024))]
    )

    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "body_too_large"
    assert reads == 0
    assert not inner.called


@pytest.mark.asyncio
async def test_a_body_without_length_is_cut_off_at_the_limit(settings):
    inner = Recorder()
    chunks = [b"x" * 3000, b"x" * 3000, b"x" * 3000]

    sent, reads = await call(edge(inner, settings), path="/generate-payment-link", chunks=chunks)

    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [413]
    assert reads == 2  # it stopped reading at the chunk that went over 4 KiB
    assert len(inner.body) <= 3000


@pytest.mark.asyncio
async def test_a_body_within_the_limit_passes_and_the_answer_carries_the_request_id(settings):
    inner = Recorder()

    sent, _ = await call(
        edge(inner, settings),
        path="/generate-payment-link",
        headers=[("content-length", "2")],
        chunks=[b"{}"],
    )

    assert sent[0]["status"] == 200
    assert inner.body == b"{}"
    headers = dict(sent[0]["headers"])
    assert headers[b"x-request-id"].decode() == inner.request_id
    assert len(inner.request_id) == 32


@pytest.mark.asyncio
async def test_a_trusted_proxys_request_id_and_client_address_are_used(settings):
    inner = Recorder()
    app = edge(inner, settings, TRUSTED_PROXY_COUNT=1)

    sent, _ = await call(
        app,
        headers=[("x-request-id", "a" * 32), ("x-forwarded-for", "6.6.6.6, 203.0.113.9")],
    )

    assert inner.request_id == "a" * 32
    assert inner.scope["client"][0] == "203.0.113.9"
    assert dict(sent[0]["headers"])[b"x-request-id"] == b"a" * 32


@pytest.mark.asyncio
async def test_without_trusted_proxies_the_headers_of_the_peer_are_ignored(settings):
    inner = Recorder()

    await call(
        edge(inner, settings),
        headers=[("x-request-id", "b" * 32), ("x-forwarded-for", "203.0.113.9")],
        client=("198.51.100.7", 1234),
    )

    assert inner.request_id != "b" * 32
    assert inner.scope["client"][0] == "198.51.100.7"


def test_body_limits_are_declared_by_the_views(settings):
    token = settings.BANQ_WEBHOOK_TOKEN
    assert body_limit_for_path(f"/webhooks/banq/{token}/payment-status/") == 65536
    assert body_limit_for_path("/webhooks/banq/anything/payment-status") == 65536
    assert body_limit_for_path("/generate-payment-link") == 4096
    assert body_limit_for_path("/orders/8d1e0000-0000-0000-0000-000000000000/confirm") == 4096
    assert body_limit_for_path("/checkout/") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert body_limit_for_path("/no/such/page") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert body_limit_for_target(b"/generate-payment-link?x=1") == 4096
    assert body_limit_for_target(b"http://shop.example.com/generate-payment-link") == 4096
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    assert body_limit_for_path(f"/webhooks/banq/{token}/payment-status/") == 1000


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://127.0.0.1:8000", True),
        ("http://localhost:8000", True),  # the same loopback store under another name
        ("http://[::1]:8000", True),
        ("https://shop.example.com", True),
        ("https://shop.example.com:443", True),
        ("https://www.example.com", True),  # https://*.example.com
        ("https://example.com", True),  # ... and the domain itself, as Django's CSRF check
        ("http://127.0.0.1:9999", False),  # another port
        ("https://localhost", False),  # another scheme and port
        ("http://testserver", False),  # a host name, but not an origin of ours
        ("http://shop.example.com", False),  # plain HTTP to the HTTPS store
        ("https://shop.example.com:8443", False),
        ("https://example.com.evil.test", False),
        ("null", False),
        ("", False),
        ("http://127.0.0.1:notaport", False),  # refused, not an error
    ],
)
def test_origins_are_compared_by_scheme_host_and_port(origin, allowed):
    check = WebSocketOriginCheck(
        None,
        ["http://127.0.0.1:8000", "https://shop.example.com", "https://*.example.com"],
    )
    assert check.allows(origin) is allowed


def _owner_session(order) -> str:
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    session_grant_order(session=store, order=order)
    store.save()
    return store.session_key


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_owner_s_cookies_open_the_socket_only_from_our_own_origin():
    """The three origins that opened the order socket before: another port, another scheme, a
    host name from ALLOWED_HOSTS. STOREFRONT_URL is http://127.0.0.1:8000 in the tests."""
    from storefront.asgi import application

    order = await sync_to_async(order_create)()
    cookie = f"{settings.SESSION_COOKIE_NAME}={await sync_to_async(_owner_session)(order)}"
    path = f"/ws/orders/{order.public_id}/"
    for origin, opens in (
        ("http://127.0.0.1:9999", False),
        ("https://localhost", False),
        ("http://testserver", False),
        ("http://127.0.0.1:8000", True),
        (None, True),  # not a browser: the consumer's own access check applies
    ):
        headers = [(b"cookie", cookie.encode())]
        if origin:
            headers.append((b"origin", origin.encode()))
        socket = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await socket.connect()
        assert connected is opens, origin
        if connected:
            assert (await socket.receive_json_from(timeout=2))["order"] == str(order.public_id)
        await socket.disconnect()
