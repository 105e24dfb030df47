"""Plain model builders for everyone's tests. Keyword-only; sensible defaults; no randomness
that a test would need to know (slugs and numbers are unique per call)."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

from django.utils import timezone

from orders.models import Cart, CartItem, Order, OrderFlag, OrderItem, Product
from orders.money import quantize_money

_seq = itertools.count(1)


def product_create(
    *,
    name: str | None = None,
    slug: str | None = None,
    price: Decimal | str = "19.90",
    currency: str = "USD",
    stock: int | None = None,
    is_active: bool = True,
    image: str = "",
    description: str = "",
    frequency: str = "once",
    periods: int | None = None,
    plan_end_date=None,
    requires_shipping: bool = False,
) -> Product:
    n = next(_seq)
    return Product.objects.create(
        name=name or f"Product {n}",
        slug=slug or f"product-{n}-{uuid.uuid4().hex[:6]}",
        price=Decimal(str(price)),
        currency=currency,
        stock=stock,
        is_active=is_active,
        image=image,
        description=description,
        frequency=frequency,
        periods=periods,
        plan_end_date=plan_end_date,
        requires_shipping=requires_shipping,
    )


def membership_create(
    *, price: Decimal | str = "9.90", frequency: str = "monthly", periods: int | None = 12, **kw
) -> Product:
    """A recurring product: a monthly plan of 12 payments unless told otherwise."""
    kw.setdefault("name", "Club membership")
    return product_create(price=price, frequency=frequency, periods=periods, **kw)


def recurring_order_create(
    *, product: Product | None = None, email: str = "shopper@example.com", session_key: str = ""
) -> Order:
    """A recurring order placed through checkout (its subscription, its plan from today)."""
    from orders.services import order_create_from_cart

    product = product or membership_create()
    cart = cart_with_items(items=[(product, 1)])
    return order_create_from_cart(
        cart=cart, email=email, name="Sam Shopper", session_key=session_key
    )


def cart_create(*, session_key: str | None = None) -> Cart:
    return Cart.objects.create(session_key=session_key or uuid.uuid4().hex)


def cart_with_items(
    *,
    items: list[tuple[Product, int]] | None = None,
    prices: list[Decimal | str] | None = None,
    session_key: str | None = None,
) -> Cart:
    """A cart with ``items`` ((product, quantity) pairs), or one unit of a new product per price."""
    cart = cart_create(session_key=session_key)
    pairs = list(items or [])
    for price in prices or []:
        pairs.append((product_create(price=price), 1))
    for product, quantity in pairs:
        CartItem.objects.create(cart=cart, product=product, quantity=quantity)
    return cart


def order_create(
    *,
    status: str = Order.Status.PENDING,
    total: Decimal | str | None = None,
    items: list[tuple[Product, int]] | None = None,
    email: str = "shopper@example.com",
    name: str = "Sam Shopper",
    currency: str = "USD",
    session_key: str = "",
    number: str | None = None,
    paid_at=None,
    payment_reference: str = "",
    flags: tuple[str, ...] = (),
) -> Order:
    """An order written directly (no transition checks: set any ``status`` for a test).

    Without ``items`` the order gets one line worth ``total`` (default 19.90). With ``items``,
    lines use the products' prices and ``total`` defaults to their sum.
    """
    n = next(_seq)
    lines: list[tuple[Product | None, str, Decimal, int]] = []
    if items:
        for product, quantity in items:
            lines.append((product, product.name, quantity_price(product.price), quantity))
    else:
        amount = quantize_money(Decimal(str(total if total is not None else "19.90")))
        lines.append((None, "Test item", amount, 1))
    computed = quantize_money(sum((price * qty for _, _, price, qty in lines), Decimal("0")))
    order_total = quantize_money(Decimal(str(total))) if total is not None else computed
    order = Order.objects.create(
        number=number or f"SF-TEST-{n:05d}-{uuid.uuid4().hex[:4].upper()}",
        email=email,
        name=name,
        currency=currency,
        subtotal=order_total,
        total=order_total,
        status=status,
        session_key=session_key,
        paid_at=paid_at,
        payment_reference=payment_reference,
        status_changed_at=timezone.now() if status != Order.Status.PENDING else None,
    )
    OrderItem.objects.bulk_create(
        [
            OrderItem(
                order=order,
                product=product,
                product_name=product_name,
                unit_price=price,
                quantity=qty,
                line_total=quantize_money(price * qty),
            )
            for product, product_name, price, qty in lines
        ]
    )
    for kind in flags:
        OrderFlag.objects.create(order=order, kind=kind, note=f"test flag {kind}")
    return order


def quantity_price(value: Decimal | str) -> Decimal:
    return quantize_money(Decimal(str(value)))
