"""Checkout: the shopper's details, order numbers, and turning a cart into an order."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from orders.exceptions import CartEmpty, CheckoutError, OrderError, ProductUnavailable
from orders.inputs import quantity_parse
from orders.models import CartItem, Order, OrderEvent, OrderItem, Product
from orders.plans import subscription_plan_words
from orders.services.cart import (
    PricedLine,
    cart_price_lines,
    plan_mix_check,
    plan_quantity_check,
    stock_check,
)
from orders.services.history import order_history_add
from orders.services.shipping import (
    ShippingAddress,
    shipping_address_clean,
    shipping_method_choose,
)
from orders.services.subscriptions import subscription_create

logger = logging.getLogger(__name__)

# Crockford-style alphabet: no 0/O, 1/I/L or U, so a number read over the phone is unambiguous.
ORDER_NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
ORDER_NUMBER_ATTEMPTS = 8
EMAIL_MAX = 254
NAME_MAX = 200


def order_number_generate() -> str:
    """A human order number such as ``SF-251125-7K3M9`` (prefix, UTC date, 5 random symbols)."""
    prefix = settings.ORDER_NUMBER_PREFIX.strip().upper() or "SF"
    suffix = "".join(secrets.choice(ORDER_NUMBER_ALPHABET) for _ in range(5))
    number = f"{prefix[:16]}-{timezone.now():%y%m%d}-{suffix}"
    return number[:32]


def checkout_email_clean(email: str) -> str:
    """The shopper's e-mail, stripped; ``CheckoutError`` (field ``email``) when it is not one."""
    email = (email or "").strip()
    if not email:
        raise CheckoutError("Please enter your e-mail address.", field="email")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise CheckoutError("Please enter a valid e-mail address.", field="email") from exc
    if len(email) > EMAIL_MAX:
        raise CheckoutError("Please enter a valid e-mail address.", field="email")
    return email


def checkout_name_clean(name: str) -> str:
    """The shopper's name with spaces tidied; ``CheckoutError`` (field ``name``)."""
    name = " ".join((name or "").split())
    if not name:
        raise CheckoutError("Please enter your name.", field="name")
    if len(name) > NAME_MAX:
        raise CheckoutError(f"Please enter a name of at most {NAME_MAX} characters.", field="name")
    return name


def checkout_details_clean(*, email: str, name: str) -> tuple[str, str]:
    """The one validation of checkout details (the checkout form uses the same two functions).
    Raises ``CheckoutError`` with a message for the shopper."""
    return checkout_email_clean(email), checkout_name_clean(name)


def order_create_from_cart(
    *,
    cart,
    email: str,
    name: str,
    session_key: str = "",
    shipping: Mapping[str, object] | ShippingAddress | None = None,
    shipping_method: object = None,
) -> Order:
    """Turn the cart into a ``pending`` order and empty the cart.

    A cart with goods that ship needs ``shipping`` (the address: form fields, cleaned here by
    ``shipping_address_clean``) and ``shipping_method`` (a method or its id, which must deliver
    to the address's country); the order keeps a snapshot of both, and the method's price (free
    from its threshold) is part of the total. For a cart with nothing to ship both are ignored.

    Prices and totals are recomputed here from the current products (``cart_price_lines``, never
    from the request); lines snapshot name and unit price. Stock, when tracked, is checked under a
    row lock and decremented. A cart holding a recurring plan (alone: ``MixedCart`` otherwise)
    becomes a recurring order with its ``Subscription`` (the plan from today; the order's total
    is the first installment). Raises ``CartEmpty``, ``ProductUnavailable``, ``OutOfStock``,
    ``MixedCart``, ``InvalidQuantity``, ``CheckoutError``; on any of them nothing is written.
    """
    email, name = checkout_details_clean(email=email, name=name)
    with transaction.atomic():
        currency = settings.STORE_CURRENCY
        lines, subtotal = _cart_lines_locked(cart, currency=currency)
        plan_line = next((line for line in lines if line.product.is_recurring), None)
        ships = any(line.product.requires_shipping for line in lines)
        shipped = _shipping_fields(
            shipping, shipping_method, subtotal=subtotal, currency=currency, ships=ships
        )
        order = _order_insert(
            email=email,
            name=name,
            currency=currency,
            subtotal=subtotal,
            total=subtotal + shipped.get("shipping_price", Decimal("0.00")),
            session_key=session_key or "",
            recurring=plan_line is not None,
            **shipped,
        )
        _items_create(order, lines)
        CartItem.objects.filter(cart=cart).delete()
        order_history_add(
            order=order,
            kind=OrderEvent.Kind.CREATED,
            source=OrderEvent.Source.CHECKOUT,
            to_status=order.status,
            message=_placed(order, plan_line),
        )
    logger.info(
        "Order %s: created as %s, total %s %s", order.public_id, order.number, order.total, currency
    )
    return order


def _cart_lines_locked(cart, *, currency: str) -> tuple[list[PricedLine], Decimal]:
    """The cart's lines priced from the current products, locked in pk order, and checked
    (``_lines_check``); their subtotal. Raises ``CartEmpty`` for an empty cart."""
    items = list(CartItem.objects.filter(cart=cart).order_by("added_at", "pk"))
    if not items:
        raise CartEmpty()
    products = {
        p.pk: p
        for p in Product.objects.select_for_update()
        .filter(pk__in=[i.product_id for i in items])
        .order_by("pk")
    }
    lines, subtotal = cart_price_lines(items, products=products)
    _lines_check(lines, currency=currency)
    return lines, subtotal


def _placed(order: Order, plan_line: PricedLine | None) -> str:
    """The history line of a new order; a plan's order gets its ``Subscription`` here."""
    if plan_line is not None:
        subscription = subscription_create(
            order=order, product=plan_line.product, amount=plan_line.line_total
        )
        return (
            f"Placed for {order.total} {order.currency}, the first payment of a plan: "
            f"{subscription_plan_words(subscription)}."
        )
    if order.requires_shipping:
        return (
            f"Placed for {order.total} {order.currency}, shipping {order.shipping_price} by "
            f"{order.shipping_method_name} to {order.shipping_city}, {order.shipping_country}."
        )
    return f"Placed for {order.total} {order.currency}."


def _lines_check(lines: list[PricedLine], *, currency: str) -> None:
    """Every line can be bought now, in ``currency`` and its quantity (raises as
    ``order_create_from_cart`` says)."""
    for line in lines:
        product = line.product
        if not product.is_active:
            raise ProductUnavailable(
                f"{product.name} is no longer available: please remove it from your cart."
            )
        if product.currency != currency:
            raise ProductUnavailable(f"{product.name} can't be bought in {currency}.")
        quantity_parse(line.quantity)
        plan_quantity_check(product=product, quantity=line.quantity)
        stock_check(product=product, quantity=line.quantity)
    plan_mix_check(products=[line.product for line in lines])


def _items_create(order: Order, lines: list[PricedLine]) -> None:
    """The order's lines, snapshotting name and unit price; tracked stock goes down."""
    OrderItem.objects.bulk_create(
        [
            OrderItem(
                order=order,
                product=line.product,
                product_name=line.product.name,
                unit_price=line.unit_price,
                quantity=line.quantity,
                line_total=line.line_total,
            )
            for line in lines
        ]
    )
    for line in lines:
        if line.product.stock is not None:
            Product.objects.filter(pk=line.product.pk).update(stock=F("stock") - line.quantity)


def _shipping_fields(
    shipping: Mapping[str, object] | ShippingAddress | None,
    method: object,
    *,
    subtotal: Decimal,
    currency: str,
    ships: bool,
) -> dict:
    """The order's shipping columns: the address and method snapshot, the price for these goods.
    Raises ``CheckoutError`` for a missing or bad address, or a method that can't be used."""
    if not ships:
        return {}
    if shipping is None:
        raise CheckoutError("Please enter the address to ship to.", field="shipping_line1")
    # Cleaned again even when it comes cleaned: this is the rule that guards the snapshot.
    address = shipping_address_clean(
        shipping.as_fields() if isinstance(shipping, ShippingAddress) else shipping
    )
    chosen = shipping_method_choose(
        method=method, country=address.shipping_country, currency=currency
    )
    return {
        **address.as_fields(),
        "requires_shipping": True,
        "fulfilment_status": Order.Fulfilment.UNFULFILLED,
        "shipping_method": chosen,
        "shipping_method_name": chosen.name,
        "shipping_price": chosen.price_for(subtotal),
    }


def _order_insert(**fields: object) -> Order:
    for _ in range(ORDER_NUMBER_ATTEMPTS):
        number = order_number_generate()
        try:
            with transaction.atomic():  # a savepoint: a collision must not break the outer block
                return Order.objects.create(number=number, **fields)
        except IntegrityError:
            if not Order.objects.filter(number=number).exists():
                raise
            logger.warning("Order number %s already taken, drawing another", number)
    raise OrderError("We could not place your order. Please try again.")
