"""How large a request body each path accepts, known before the body is read.

A view declares its limit as ``max_body_bytes`` (bytes, or a callable returning them, for a limit
that is a setting): the webhook takes ``WEBHOOK_MAX_BODY_BYTES``, the shopper's JSON calls 4 KiB.
Every other path (forms, the admin, unknown URLs) takes Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``.

Two places refuse a body over the limit with 413 before reading it: the server
(``storefront.serve``: when the headers arrive, from ``Content-Length``, and while a chunked body
streams in) and the ASGI edge (``storefront.edge``, for any ASGI server). nginx's per-location
``client_max_body_size`` (``deploy/nginx/storefront.conf``) is the first of the three.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve

UNLIMITED = 2**62


def default_body_limit() -> int:
    limit = getattr(settings, "DATA_UPLOAD_MAX_MEMORY_SIZE", None)
    return UNLIMITED if limit is None else int(limit)


def body_limit_for_path(path: str) -> int:
    """The largest body, in bytes, that ``path`` (no query string) accepts."""
    try:
        match = resolve(path or "/")
    except Resolver404:
        return default_body_limit()
    except Exception:  # a path the URL resolver can't take: it will get its 404/400 later
        return default_body_limit()
    view = getattr(match.func, "view_class", match.func)
    limit = getattr(view, "max_body_bytes", None)
    if callable(limit):
        limit = limit()
    return default_body_limit() if limit is None else int(limit)


def body_limit_for_target(target: bytes) -> int:
    """The limit for an HTTP request target as sent on the request line (``/path?query``, or an
    absolute URL)."""
    text = target.decode("latin-1")
    if "://" in text.split("?", 1)[0]:
        text = urlsplit(text).path
    return body_limit_for_path(unquote(text.split("?", 1)[0]))


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The ``Content-Length`` of ASGI headers, None when absent or unreadable."""
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
