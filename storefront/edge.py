"""The ASGI edge: what every HTTP request and WebSocket goes through before the app sees it.

``StoreEdge`` (outermost, ``storefront.asgi``):

- **The client's address.** Behind a reverse proxy every connection comes from the proxy. With
  ``DJANGO_TRUSTED_PROXIES`` set, the client is read from ``X-Forwarded-For``: either a count of
  proxies (``1`` for nginx alone: the address nginx appended, whatever the client wrote before
  it), or the proxies' networks (``127.0.0.1/32,10.0.0.0/8``: the first address from the right
  that is not one of them). ``scope["client"]`` (Django's ``REMOTE_ADDR``) becomes that address,
  for the rate limits, the logs and the stored webhook events. Unset: the peer's address, and
  ``X-Forwarded-For`` is ignored (anyone can write it).
- **A request id.** The trusted proxy's ``X-Request-ID`` (nginx: ``$request_id``), else a new
  one; it is in every log line of the request (``storefront.logs``) and in the response's
  ``X-Request-ID`` header.
- **Early 413.** A declared ``Content-Length`` over the path's limit (``storefront.limits``) is
  answered 413 without reading the body; a body without one (chunked) is cut off with 413 as
  soon as it passes the limit.

``WebSocketOriginCheck`` (Channels' ``OriginValidator``): a browser's WebSocket handshake is
accepted only from an allowed origin, comparing scheme, host and port
(``WEBSOCKET_ALLOWED_ORIGINS``: the store's own ``STOREFRONT_URL`` and
``DJANGO_CSRF_TRUSTED_ORIGINS``; on a loopback ``STOREFRONT_URL``, the other loopback names on
the same port too). A handshake without
``Origin`` is no browser carrying someone's cookies, and passes; the consumer's own access check
(owner session or signed key) applies to everyone.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlparse, urlsplit

from channels.security.websocket import OriginValidator
from django.conf import settings

from storefront.limits import body_limit_for_path, declared_length
from storefront.logs import REQUEST_ID, REQUEST_ID_RE, new_request_id
from storefront.redaction import redact

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def too_large_body(limit: int) -> bytes:
    """The 413's JSON, in the one shape of a JSON error (``storefront.http.json_error``)."""
    message = f"The request body is too large: over {limit} bytes."
    return json.dumps({"error": {"code": "body_too_large", "message": message}}).encode()


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    values = [value.decode("latin-1") for key, value in headers if key.lower() == name]
    return ",".join(values) if values else None


def parse_address(value: str) -> IPAddress | None:
    """An IP address from an ``X-Forwarded-For`` entry (``1.2.3.4``, ``1.2.3.4:80``, ``::1``,
    ``[::1]:80``), None for anything else."""
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class TrustedProxies:
    """``DJANGO_TRUSTED_PROXIES``: a number of proxies, or their networks (see the module doc)."""

    count: int = 0
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls) -> TrustedProxies:
        networks = []
        for net in getattr(settings, "TRUSTED_PROXY_NETWORKS", ()) or ():
            try:
                networks.append(ipaddress.ip_network(net, strict=False))
            except ValueError:
                continue  # an error of `manage.py check` (storefront.E005): the store won't start
        return cls(
            count=int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0), networks=tuple(networks)
        )

    @property
    def enabled(self) -> bool:
        return bool(self.count or self.networks)

    def _trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)

    def trusts_peer(self, peer: str) -> bool:
        """Whether the connection comes from a trusted proxy (whose headers count)."""
        if self.count:
            return True
        address = parse_address(peer)
        return address is not None and self._trusted(address)

    def client_address(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address for a connection from ``peer`` carrying ``forwarded_for``."""
        if not self.enabled or not forwarded_for or not self.trusts_peer(peer):
            return peer
        chain = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()] + [peer]
        if self.count:
            # The proxy nearest to us is the peer; each proxy appends the address it saw.
            found = parse_address(chain[max(len(chain) - 1 - self.count, 0)])
            return str(found) if found is not None else peer
        last_trusted = peer
        for hop in reversed(chain):
            address = parse_address(hop)
            if address is None:  # not written by a proxy of ours: stop at the last one we trust
                return last_trusted
            if not self._trusted(address):
                return str(address)
            last_trusted = str(address)
        return last_trusted  # every hop is one of our proxies


def _json_413(limit: int, request_id: str) -> tuple[dict, dict]:
    body = too_large_body(limit)
    start = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"x-request-id", request_id.encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class StoreEdge:
    """ASGI middleware: see the module doc."""

    def __init__(self, app) -> None:
        self.app = app
        self.proxies = TrustedProxies.from_settings()

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = scope.get("headers") or []
        client = scope.get("client")
        peer = str(client[0]) if client else ""
        incoming_id = _header(headers, b"x-request-id")
        request_id = (
            incoming_id
            if incoming_id
            and self.proxies.trusts_peer(peer)
            and REQUEST_ID_RE.fullmatch(incoming_id)
            else new_request_id()
        )
        if self.proxies.enabled and client:
            address = self.proxies.client_address(peer, _header(headers, b"x-forwarded-for"))
            if address != peer:
                scope = {**scope, "client": [address, 0]}
        token = REQUEST_ID.set(request_id)
        try:
            if scope["type"] == "http":
                return await self._http(scope, receive, send, request_id)
            return await self.app(scope, receive, send)
        finally:
            REQUEST_ID.reset(token)

    async def _http(self, scope, receive, send, request_id: str):
        # The path's limit is looked up only for a request with a body (not for a GET).
        limit: int | None = None
        declared = declared_length(scope.get("headers") or [])
        if declared:
            limit = body_limit_for_path(scope.get("path", "/"))
            if declared > limit:
                self._log_refusal(scope, limit)
                for message in _json_413(limit, request_id):
                    await send(message)
                return None

        received = 0
        refused = False
        started = False

        async def limited_receive():
            nonlocal received, refused, limit
            message = await receive()
            if message["type"] == "http.request" and not refused and message.get("body"):
                received += len(message["body"])
                if limit is None:
                    limit = body_limit_for_path(scope.get("path", "/"))
                if received > limit:
                    refused = True
                    self._log_refusal(scope, limit)
                    if not started:
                        for reply in _json_413(limit, request_id):
                            await send(reply)
                    return {"type": "http.disconnect"}
            return message

        async def tagged_send(message):
            nonlocal started
            if refused:
                return  # the 413 went out instead
            if message["type"] == "http.response.start":
                started = True
                names = {name.lower() for name, _ in message.get("headers", [])}
                if b"x-request-id" not in names:
                    message = {
                        **message,
                        "headers": [
                            *message.get("headers", []),
                            (b"x-request-id", request_id.encode()),
                        ],
                    }
            await send(message)

        return await self.app(scope, limited_receive, tagged_send)

    @staticmethod
    def _log_refusal(scope, limit: int) -> None:
        logger.warning(
            "Request body over %s bytes refused with 413: %s %s",
            limit,
            scope.get("method", ""),
            redact(scope.get("path", "")),
        )


# --- WebSocket origins -----------------------------------------------------------------------

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def origin_patterns(origins: Iterable[str]) -> list[str]:
    """``origins`` as Channels' ``OriginValidator`` patterns: ``https://*.example.com`` (Django's
    CSRF spelling) becomes ``https://.example.com`` (the domain and its subdomains), a loopback
    origin also stands for the other loopback names on its port (a developer opens
    http://localhost:8000 as often as http://127.0.0.1:8000), and any other ``*`` is dropped (it
    would let every origin in)."""
    patterns: list[str] = []
    for origin in origins:
        origin = origin.strip().replace("://*.", "://.", 1)
        if not origin or "*" in origin:
            continue
        patterns.append(origin)
        try:
            parts = urlsplit(origin)
            host, port = parts.hostname, parts.port
        except ValueError:
            continue
        if host not in LOOPBACK_NAMES:
            continue
        suffix = f":{port}" if port else ""
        for name in LOOPBACK_NAMES:
            if name != host:
                shown = f"[{name}]" if ":" in name else name  # an IPv6 address in a URL
                patterns.append(f"{parts.scheme}://{shown}{suffix}")
    return patterns


class WebSocketOriginCheck(OriginValidator):
    """Channels' ``OriginValidator`` as the store needs it (see the module doc): the allowed
    origins are ``WEBSOCKET_ALLOWED_ORIGINS`` (``origin_patterns``), a handshake without an
    ``Origin`` header passes, an unusable one is refused rather than an error, and a refusal is
    logged."""

    def __init__(self, application, allowed_origins: Iterable[str]) -> None:
        super().__init__(application, origin_patterns(allowed_origins))

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True  # no browser carrying someone's cookies; the consumer checks access
        try:
            allowed = super().valid_origin(parsed_origin)
        except ValueError:  # a port that is not a number
            allowed = False
        if not allowed:
            logger.info("WebSocket refused: origin %s is not allowed", parsed_origin.geturl()[:200])
        return allowed

    def allows(self, origin: str) -> bool:
        """Whether a handshake with this ``Origin`` header is let through."""
        return self.valid_origin(urlparse(origin))
