"""Reads for the shop: products, cart summaries, orders by number. Query counts stay constant."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet, Sum

from orders.inputs import ascii_digits
from orders.models import Cart, CartItem, Order, Product
from orders.plans import product_plan_words
from orders.services import PricedLine, cart_price_lines

CartLine = PricedLine


def product_list_active() -> QuerySet[Product]:
    """Products on sale, in catalog order. One query however many there are."""
    return Product.objects.filter(is_active=True).order_by("name", "pk")


def product_get_active(*, slug: str) -> Product:
    """The active product with ``slug``. Raises ``Product.DoesNotExist`` otherwise."""
    return Product.objects.get(slug=slug, is_active=True)


def product_get_active_by_reference(*, reference: Any) -> Product | None:
    """An active product by slug or numeric id (what a cart form posts), or None."""
    return product_get_by_reference(reference=reference, active_only=True)


def product_get_by_reference(*, reference: Any, active_only: bool = False) -> Product | None:
    """A product by slug or numeric id, or None (inactive ones too unless ``active_only``: a
    shopper may remove a withdrawn product from the cart)."""
    text = str(reference if reference is not None else "").strip()
    if not text or len(text) > 200:
        return None
    query = Product.objects.filter(is_active=True) if active_only else Product.objects.all()
    if ascii_digits(text):
        return query.filter(pk=int(text)).first() or query.filter(slug=text).first()
    return query.filter(slug=text).first()


@dataclass(frozen=True)
class CartSummary:
    cart: Cart | None
    lines: list[PricedLine] = field(default_factory=list)
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

    @property
    def plan_line(self) -> PricedLine | None:
        """The line of a recurring plan, if the cart holds one."""
        return next((line for line in self.lines if line.product.is_recurring), None)

    @property
    def ships(self) -> bool:
        """The cart holds goods that ship: checkout asks for an address and a method."""
        return any(line.product.requires_shipping for line in self.lines)

    @property
    def is_mixed(self) -> bool:
        """A plan with other lines: checkout refuses it (one order, one plan or one-time items)."""
        return self.plan_line is not None and len(self.lines) > 1

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
                    "plan": product_plan_words(line.product) or None,
                }
                for line in self.lines
            ],
            "subtotal": str(self.subtotal),
            "total": str(self.total),
            "currency": self.currency,
            "count": self.count,
            "ships": self.ships,
        }


def cart_summary(*, cart: Cart | None) -> CartSummary:
    """Lines with current prices and Decimal totals, priced exactly as checkout charges them
    (``orders.services.cart_price_lines``). One query."""
    currency = settings.STORE_CURRENCY
    if cart is None or cart.pk is None:
        return CartSummary(cart=cart, currency=currency)
    items = CartItem.objects.filter(cart=cart).select_related("product").order_by("added_at", "pk")
    lines, subtotal = cart_price_lines(items)
    return CartSummary(
        cart=cart,
        lines=lines,
        subtotal=subtotal,
        total=subtotal,
        currency=currency,
        count=sum(line.quantity for line in lines),
    )


def cart_item_count(*, session_key: str | None) -> int:
    """How many units are in the session's cart (for the header). One query, none without a key."""
    if not session_key:
        return 0
    total = CartItem.objects.filter(cart__session_key=session_key).aggregate(n=Sum("quantity"))
    return int(total["n"] or 0)


def orders_by_number(*, numbers: list[str]) -> dict[str, Order]:
    """The orders with these numbers, by number (unknown numbers are missing)."""
    return {order.number: order for order in Order.objects.filter(number__in=numbers)}
