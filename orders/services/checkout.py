"""Checkout: the shopper's details, order numbers, and turning a cart into an order."""

from __future__ import annotations

import logging
import secrets

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


def order_create_from_cart(*, cart, email: str, name: str, session_key: str = "") -> Order:
    """Turn the cart into a ``pending`` order and empty the cart.

    Prices and totals are recomputed here from the current products (``cart_price_lines``, never
    from the request); lines snapshot name and unit price. Stock, when tracked, is checked under a
    row lock and decremented. A cart holding a recurring plan (alone: ``MixedCart`` otherwise)
    becomes a recurring order with its ``Subscription`` (the plan from today; the order's total
    is the first installment). Raises ``CartEmpty``, ``ProductUnavailable``, ``OutOfStock``,
    ``MixedCart``, ``InvalidQuantity``, ``CheckoutError``; on any of them nothing is written.
    """
    email, name = checkout_details_clean(email=email, name=name)
    with transaction.atomic():
        items = list(CartItem.objects.filter(cart=cart).order_by("added_at", "pk"))
        if not items:
            raise CartEmpty()
        products = {
            p.pk: p
            for p in Product.objects.select_for_update()
            .filter(pk__in=[i.product_id for i in items])
            .order_by("pk")
        }
        currency = settings.STORE_CURRENCY
        lines, subtotal = cart_price_lines(items, products=products)
        _lines_check(lines, currency=currency)
        plan_line = next((line for line in lines if line.product.is_recurring), None)
        order = _order_insert(
            email=email,
            name=name,
            currency=currency,
            subtotal=subtotal,
            total=subtotal,
            session_key=session_key or "",
            recurring=plan_line is not None,
        )
        _items_create(order, lines)
        CartItem.objects.filter(cart=cart).delete()
        placed = f"Placed for {order.total} {currency}."
        if plan_line is not None:
            subscription = subscription_create(
                order=order, product=plan_line.product, amount=plan_line.line_total
            )
            placed = (
                f"Placed for {order.total} {currency}, the first payment of a plan: "
                f"{subscription_plan_words(subscription)}."
            )
        order_history_add(
            order=order,
            kind=OrderEvent.Kind.CREATED,
            source=OrderEvent.Source.CHECKOUT,
            to_status=order.status,
            message=placed,
        )
    logger.info(
        "Order %s: created as %s, total %s %s", order.public_id, order.number, order.total, currency
    )
    return order


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
