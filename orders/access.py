"""Who may see an order: the browser session that placed it, or whoever holds its signed link.

A stranger (wrong session, guessed or enumerated id, forged or expired key) gets exactly what an
unknown id gets: nothing. Opening the order page with a valid signed link grants the visiting
session access (once; a visit that grants nothing new writes nothing), so the page's own calls
(payment link, status, WebSocket) work for that visitor too. The JSON and socket endpoints accept
the key as well but never write the session.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

from orders.models import Order

SESSION_KEY = "orders_owned"
MAX_OWNED_IN_SESSION = 50
ACCESS_PARAM = "key"
_SALT = "orders.order-access"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def order_access_key(*, order: Order) -> str:
    """The key part of the signed link (timestamp + signature of the public id)."""
    return _signer().sign(order.public_id.hex).split(":", 1)[1]


def order_access_key_valid(*, order: Order, key: str | None) -> bool:
    return public_id_key_valid(public_id=order.public_id, key=key)


def public_id_key_valid(*, public_id: uuid.UUID, key: str | None) -> bool:
    """Whether ``key`` is the signed link's key of the order with ``public_id`` (not expired): it
    signs the id alone, so it is checked without reading the order."""
    if not key or len(key) > 200:
        return False
    max_age = settings.ORDER_LINK_MAX_AGE_DAYS * 24 * 3600
    try:
        value = _signer().unsign(f"{public_id.hex}:{key}", max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is a subclass
        return False
    return value == public_id.hex


def order_signed_url(*, order: Order, absolute: bool = False) -> str:
    path = reverse("orders:order-detail", kwargs={"public_id": order.public_id})
    url = f"{path}?{ACCESS_PARAM}={order_access_key(order=order)}"
    return f"{settings.STOREFRONT_URL}{url}" if absolute else url


def session_grant_order(*, session: Any, order: Order) -> None:
    """Remember in the session that this browser may see ``order`` (no write when it already
    does)."""
    owned = list(session.get(SESSION_KEY, []))
    if str(order.public_id) in owned:
        return
    owned.append(str(order.public_id))
    session[SESSION_KEY] = owned[-MAX_OWNED_IN_SESSION:]


def session_owns_order(*, session: Any, order: Order) -> bool:
    return session_owns_public_id(session=session, public_id=order.public_id)


def session_owns_public_id(*, session: Any, public_id: uuid.UUID) -> bool:
    """Whether this session placed (or was granted) the order with ``public_id``; reads no order,
    so a caller that then locks the order reads it once."""
    if session is None:
        return False
    return str(public_id) in session.get(SESSION_KEY, [])


def parse_public_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def order_get_accessible(
    *, session: Any, public_id: Any, key: str | None = None, grant: bool = False
) -> Order | None:
    """The order if this session, or the signed ``key``, may see it; else None. With ``grant``
    (the order page), a valid key also grants the session access.

    None covers unknown ids, malformed ids and orders that belong to someone else alike. A valid
    key is checked first, so a visit with the key reads no session.
    """
    parsed = parse_public_id(public_id)
    if parsed is None:
        return None
    try:
        order = Order.objects.get(public_id=parsed)
    except Order.DoesNotExist:
        return None
    if key is not None and order_access_key_valid(order=order, key=key):
        if grant and session is not None:
            session_grant_order(session=session, order=order)
        return order
    if session_owns_order(session=session, order=order):
        return order
    return None
