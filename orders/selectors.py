"""Reads for the shop: products, cart summaries and orders. Query counts stay constant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet, Sum

from orders.models import Cart, CartItem, Order, Product
from orders.money import quantize_money


def _ascii_digits(text: str) -> bool:
    """Only 0-9 (``str.isdigit`` also accepts e.g. superscripts, which ``int`` refuses)."""
    return text.isascii() and text.isdigit()


def product_list_active() -> QuerySet[Product]:
    """Products on sale, in catalog order. One query however many there are."""
    return Product.objects.filter(is_active=True).order_by("name", "pk")


def product_get_active(*, slug: str) -> Product:
    """The active product with ``slug``. Raises ``Product.DoesNotExist`` otherwise."""
    return Product.objects.get(slug=slug, is_active=True)


def product_get_active_by_reference(*, reference: Any) -> Product | None:
    """An active product by slug or numeric id (what a cart form posts), or None."""
    text = str(reference or "").strip()
    if not text or len(text) > 200:
        return None
    query = Product.objects.filter(is_active=True)
    if _ascii_digits(text):
        return query.filter(pk=int(text)).first() or query.filter(slug=text).first()
    return query.filter(slug=text).first()


@dataclass(frozen=True)
class CartLine:
    item: CartItem
    product: Product
    quantity: int
    unit_price: Decimal
    line_total: Decimal
    available: bool


@dataclass(frozen=True)
class CartSummary:
    cart: Cart | None
    lines: list[CartLine] = field(default_factory=list)
    subtotal: Decimal = Decimal("0.00")
    total: Decimal = Decimal("0.00")
    currency: str = "USD"
    count: int = 0

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def has_unavailable(self) -> bool:
        return any(not line.available for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly: amounts as strings so no float ever touches them."""
        return {
            "lines": [
                {
                    "product": line.product.slug,
                    "name": line.product.name,
                    "quantity": line.quantity,
                    "unit_price": str(line.unit_price),
                    "line_total": str(line.line_total),
                    "available": line.available,
                }
                for line in self.lines
            ],
            "subtotal": str(self.subtotal),
            "total": str(self.total),
            "currency": self.currency,
            "count": self.count,
        }


def cart_summary(*, cart: Cart | None) -> CartSummary:
    """Lines with current prices and Decimal totals (cents, ROUND_HALF_UP). One query."""
    currency = settings.STORE_CURRENCY
    if cart is None or cart.pk is None:
        return CartSummary(cart=cart, currency=currency)
    items = list(
        CartItem.objects.filter(cart=cart).select_related("product").order_by("added_at", "pk")
    )
    lines = []
    subtotal = Decimal("0")
    count = 0
    for item in items:
        product = item.product
        unit_price = quantize_money(product.price)
        line_total = quantize_money(unit_price * item.quantity)
        available = product.is_active and (product.stock is None or product.stock >= item.quantity)
        lines.append(
            CartLine(
                item=item,
                product=product,
                quantity=item.quantity,
                unit_price=unit_price,
                line_total=line_total,
                available=available,
            )
        )
        subtotal += line_total
        count += item.quantity
    subtotal = quantize_money(subtotal)
    return CartSummary(
        cart=cart, lines=lines, subtotal=subtotal, total=subtotal, currency=currency, count=count
    )


def cart_item_count(*, session_key: str | None) -> int:
    """How many units are in the session's cart (for the header). One query, none without a key."""
    if not session_key:
        return 0
    total = CartItem.objects.filter(cart__session_key=session_key).aggregate(n=Sum("quantity"))
    return int(total["n"] or 0)


def order_get_by_public_id(*, public_id: Any) -> Order:
    """The order with this public id, lines prefetched. Raises ``Order.DoesNotExist`` otherwise
    (a malformed id included)."""
    try:
        parsed = uuid.UUID(str(public_id))
    except (TypeError, ValueError, AttributeError) as exc:
        raise Order.DoesNotExist("malformed public id") from exc
    return Order.objects.prefetch_related("items").get(public_id=parsed)
