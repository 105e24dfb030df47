"""Writes to orders. The one place where an order's status changes.

``ALLOWED_TRANSITIONS`` is the table from STYLE.md "State transitions". ``order_mark_paid`` is
the one way into ``paid``; everything else goes through ``order_set_status``. Both lock the order
row, and their side effects (browser push, ``order_paid`` signal, confirmation e-mail) run only
after commit and only when something really changed.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from orders import notifications
from orders.exceptions import (
    CartEmpty,
    CheckoutError,
    InvalidOrderTransition,
    InvalidQuantity,
    OrderError,
    OutOfStock,
    ProductUnavailable,
)
from orders.models import Cart, CartItem, Order, OrderItem, Product
from orders.money import quantize_money

logger = logging.getLogger(__name__)

S = Order.Status

ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.AWAITING_PAYMENT, S.CANCELLED, S.EXPIRED},
    S.AWAITING_PAYMENT: {S.PAID, S.FAILED, S.CANCELLED, S.EXPIRED},
    S.FAILED: {S.AWAITING_PAYMENT, S.CANCELLED},
    S.PAID: set(),
    S.CANCELLED: set(),
    S.EXPIRED: set(),
}

# States from which a verified banq payment still marks the order paid (STYLE.md: a confirmed
# payment is never dropped). pending/failed move to paid although the table has no such edge;
# cancelled/expired keep their status and the order is flagged for the merchant.
PAYABLE_ANYWAY = {S.PENDING, S.FAILED}
FLAG_WHEN_PAID = {S.CANCELLED, S.EXPIRED}


def order_can_transition(*, current: str, target: str) -> bool:
    return target in ALLOWED_TRANSITIONS.get(current, set())


def _lock(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


def order_set_status(*, order: Order, status: str) -> Order:
    """Move ``order`` to ``status`` if the table allows it.

    A move to the current status is a no-op. Raises ``InvalidOrderTransition`` otherwise; nothing is
    written then. ``paid`` is refused here: use ``order_mark_paid``. Returns the fresh order.
    """
    if status == S.PAID:
        raise InvalidOrderTransition(order.status, status)
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == status:
            return locked
        if not order_can_transition(current=locked.status, target=status):
            raise InvalidOrderTransition(locked.status, status)
        previous = locked.status
        locked.status = status
        locked.status_changed_at = timezone.now()
        fields = ["status", "status_changed_at", "updated_at"]
        if status == S.AWAITING_PAYMENT and locked.payment_error:
            locked.payment_error = ""  # a new attempt starts clean
            fields.append("payment_error")
        locked.save(update_fields=fields)
        logger.info("Order %s: %s -> %s", locked.public_id, previous, status)
        transaction.on_commit(lambda: notifications.status_changed(order=locked, previous=previous))
    _copy_into(order, locked)
    return locked


def order_mark_paid(
    *, order: Order, payment_reference: str, paid_at: datetime | None = None
) -> tuple[Order, bool]:
    """Record a payment that banq confirmed (the caller has verified it).

    Returns ``(order, changed)``; ``changed`` is False when the order was already paid
    (redeliveries are normal), so callers can count real transitions. A cancelled or expired order
    keeps its status but records the payment and is flagged ``paid_after_cancellation``. The caller
    has verified the payment with banq; this function does not talk to banq.
    """
    with transaction.atomic():
        locked = _lock(order)
        if locked.paid_at is not None:
            _copy_into(order, locked)
            return locked, False
        now = timezone.now()
        previous = locked.status
        locked.paid_at = paid_at or now
        locked.payment_reference = payment_reference[:64]
        fields = ["paid_at", "payment_reference", "updated_at"]
        if previous in FLAG_WHEN_PAID:
            locked.attention = Order.Attention.PAID_AFTER_CANCELLATION
            locked.attention_note = (
                f"banq payment {payment_reference} completed after the order was {previous}: "
                "refund it or fulfil the order."
            )
            fields += ["attention", "attention_note"]
            logger.warning(
                "Order %s: paid after it was %s (banq payment %s)",
                locked.public_id,
                previous,
                payment_reference,
            )
        elif previous in PAYABLE_ANYWAY or order_can_transition(current=previous, target=S.PAID):
            locked.status = S.PAID
            locked.status_changed_at = now
            fields += ["status", "status_changed_at"]
            logger.info("Order %s: paid (banq payment %s)", locked.public_id, payment_reference)
        else:  # pragma: no cover - every status is covered by the branches above
            raise InvalidOrderTransition(previous, S.PAID)
        locked.save(update_fields=fields)
        transaction.on_commit(lambda: notifications.paid(order=locked, previous=previous))
    _copy_into(order, locked)
    return locked, True


def order_mark_payment_failed(*, order: Order, reason: str) -> tuple[Order, bool]:
    """Record that the shopper's payment failed, with ``reason`` in words the shopper can read.

    Only an order that is awaiting payment becomes ``failed``; a paid order never moves back, and
    for any other status nothing changes. Returns ``(order, changed)``. Called by banq's settlement
    once banq itself reports the failure.
    """
    with transaction.atomic():
        locked = _lock(order)
        if locked.status == S.FAILED and locked.payment_error != reason:
            locked.payment_error = reason[:300]
            locked.save(update_fields=["payment_error", "updated_at"])
        if locked.paid_at is not None or not order_can_transition(
            current=locked.status, target=S.FAILED
        ):
            _copy_into(order, locked)
            return locked, False
        previous = locked.status
        locked.status = S.FAILED
        locked.status_changed_at = timezone.now()
        locked.payment_error = reason[:300]
        locked.save(update_fields=["status", "status_changed_at", "payment_error", "updated_at"])
        logger.info("Order %s: payment failed", locked.public_id)
        transaction.on_commit(lambda: notifications.status_changed(order=locked, previous=previous))
    _copy_into(order, locked)
    return locked, True


EXPIRABLE = (S.PENDING, S.AWAITING_PAYMENT)


def order_expiry_cutoff(*, now: datetime | None = None, minutes: int | None = None) -> datetime:
    minutes = settings.ORDER_EXPIRY_MINUTES if minutes is None else minutes
    return (now or timezone.now()) - timedelta(minutes=minutes)


def order_is_stale(*, order: Order, now: datetime | None = None) -> bool:
    """Unpaid past its expiry time (whether or not ``expire_orders`` has run yet)."""
    return (
        order.status in EXPIRABLE
        and order.paid_at is None
        and order.created_at <= order_expiry_cutoff(now=now)
    )


def order_expire(*, order: Order) -> bool:
    """Expire one unpaid order. False when it was paid or changed meanwhile (nothing written)."""
    try:
        with transaction.atomic():
            locked = _lock(order)
            if locked.status not in EXPIRABLE or locked.paid_at is not None:
                return False
            order_set_status(order=locked, status=S.EXPIRED)
    except InvalidOrderTransition:
        return False
    _copy_into(order, locked)
    return True


def orders_expire_stale(
    *, now: datetime | None = None, minutes: int | None = None, dry_run: bool = False
) -> list[Order]:
    """Expire unpaid orders created before the cutoff; returns the orders (to be) expired.

    Cron-safe: each order is locked and re-checked before it changes, so concurrent runs, or a
    payment landing at the same moment, never expire a paid order or expire one twice.
    """
    cutoff = order_expiry_cutoff(now=now, minutes=minutes)
    candidates = list(
        Order.objects.filter(
            status__in=EXPIRABLE, paid_at__isnull=True, created_at__lte=cutoff
        ).order_by("created_at")
    )
    if dry_run:
        return candidates
    return [order for order in candidates if order_expire(order=order)]


def _copy_into(target: Order, source: Order) -> None:
    """Refresh the caller's instance in place so it doesn't keep a stale status."""
    if target is source:
        return
    for field in (
        "payment_error",
        "status",
        "status_changed_at",
        "paid_at",
        "payment_reference",
        "attention",
        "attention_note",
        "updated_at",
    ):
        setattr(target, field, getattr(source, field))


def _ascii_digits(text: str) -> bool:
    """Only 0-9 (``str.isdigit`` also accepts e.g. superscripts, which ``int`` refuses)."""
    return text.isascii() and text.isdigit()


# --- Cart ---


def quantity_parse(value: object, *, allow_zero: bool = False) -> int:
    """A quantity from form or JSON input. Raises ``InvalidQuantity`` (message for the shopper).

    Accepts ints and digit strings; refuses floats, booleans, negatives, zero (unless
    ``allow_zero``) and anything above ``settings.CART_MAX_QUANTITY``.
    """
    maximum = settings.CART_MAX_QUANTITY
    message = f"Please choose a quantity between {0 if allow_zero else 1} and {maximum}."
    if isinstance(value, bool) or value is None:
        raise InvalidQuantity(message)
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not text or len(text) > 6 or not _ascii_digits(text.removeprefix("-")):
            raise InvalidQuantity(message)
        number = int(text)
    if number < (0 if allow_zero else 1) or number > maximum:
        raise InvalidQuantity(message)
    return number


def cart_get_for_session(*, session_key: str | None, create: bool = False) -> Cart | None:
    """The cart of a browser session; created when ``create`` is true, else None if absent."""
    if not session_key:
        return None
    if create:
        cart, _ = Cart.objects.get_or_create(session_key=session_key)
        return cart
    return Cart.objects.filter(session_key=session_key).first()


def _check_stock(*, product: Product, quantity: int) -> None:
    if product.stock is not None and quantity > product.stock:
        if product.stock == 0:
            raise OutOfStock(f"{product.name} is out of stock.")
        raise OutOfStock(f"Only {product.stock} of {product.name} left in stock.")


def cart_add_item(*, cart: Cart, product: Product, quantity: int) -> CartItem:
    """Add ``quantity`` of ``product`` (adding to a line already in the cart).

    Raises ``InvalidQuantity`` (also when the line would exceed the maximum),
    ``ProductUnavailable`` for an inactive product, ``OutOfStock``.
    """
    quantity = quantity_parse(quantity)
    if not product.is_active:
        raise ProductUnavailable(f"{product.name} is not available.")
    with transaction.atomic():
        item = CartItem.objects.select_for_update().filter(cart=cart, product=product).first()
        new_quantity = quantity + (item.quantity if item else 0)
        if new_quantity > settings.CART_MAX_QUANTITY:
            raise InvalidQuantity(
                f"You can have at most {settings.CART_MAX_QUANTITY} of {product.name} in your cart."
            )
        _check_stock(product=product, quantity=new_quantity)
        if item is None:
            item = CartItem.objects.create(cart=cart, product=product, quantity=new_quantity)
        else:
            item.quantity = new_quantity
            item.save(update_fields=["quantity"])
        Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())
    return item


def _cart_item(*, cart: Cart, product: Product | None, item: CartItem | int | None) -> CartItem:
    query = CartItem.objects.filter(cart=cart).select_related("product")
    if item is not None:
        query = query.filter(pk=item.pk if isinstance(item, CartItem) else item)
    elif product is not None:
        query = query.filter(product=product)
    else:
        raise ProductUnavailable("That item is not in your cart.")
    found = query.first()
    if found is None:
        raise ProductUnavailable("That item is not in your cart.")
    return found


def cart_set_quantity(
    *,
    cart: Cart,
    quantity: int,
    product: Product | None = None,
    item: CartItem | int | None = None,
) -> CartItem | None:
    """Set a line's quantity; 0 removes the line (returns None). Raises ``CartError`` subclasses."""
    quantity = quantity_parse(quantity, allow_zero=True)
    line = _cart_item(cart=cart, product=product, item=item)
    if quantity == 0:
        line.delete()
        return None
    if not line.product.is_active:
        raise ProductUnavailable(f"{line.product.name} is not available any more.")
    _check_stock(product=line.product, quantity=quantity)
    line.quantity = quantity
    line.save(update_fields=["quantity"])
    return line


def cart_remove_item(
    *, cart: Cart, product: Product | None = None, item: CartItem | int | None = None
) -> None:
    """Remove a line. Removing a line that is not there is a no-op."""
    try:
        line = _cart_item(cart=cart, product=product, item=item)
    except ProductUnavailable:
        return
    line.delete()


# --- Orders ---

# Crockford-style alphabet: no 0/O, 1/I/L or U, so a number read over the phone is unambiguous.
ORDER_NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
ORDER_NUMBER_ATTEMPTS = 8


def order_number_generate() -> str:
    """A human order number such as ``SF-251125-7K3M9`` (prefix, UTC date, 5 random symbols)."""
    prefix = settings.ORDER_NUMBER_PREFIX.strip().upper() or "SF"
    suffix = "".join(secrets.choice(ORDER_NUMBER_ALPHABET) for _ in range(5))
    number = f"{prefix[:16]}-{timezone.now():%y%m%d}-{suffix}"
    return number[:32]


def _checkout_details(*, email: str, name: str) -> tuple[str, str]:
    email = (email or "").strip()
    name = " ".join((name or "").split())
    try:
        validate_email(email)
    except ValidationError as exc:
        raise CheckoutError("Please enter a valid e-mail address.") from exc
    if len(email) > 254:
        raise CheckoutError("Please enter a valid e-mail address.")
    if not name:
        raise CheckoutError("Please enter your name.")
    if len(name) > 200:
        raise CheckoutError("Please enter a name of at most 200 characters.")
    return email, name


def order_create_from_cart(*, cart: Cart, email: str, name: str, session_key: str = "") -> Order:
    """Turn the cart into a ``pending`` order and empty the cart.

    Prices and totals are recomputed here from the current products (never taken from the
    request); lines snapshot name and unit price. Stock, when tracked, is checked under a row
    lock and decremented. Raises ``CartEmpty``, ``ProductUnavailable``, ``OutOfStock``,
    ``CheckoutError``; on any of them nothing is written.
    """
    email, name = _checkout_details(email=email, name=name)
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
        lines = []
        subtotal = Decimal("0")
        currency = settings.STORE_CURRENCY
        for item in items:
            product = products[item.product_id]
            if not product.is_active:
                raise ProductUnavailable(
                    f"{product.name} is no longer available: please remove it from your cart."
                )
            if product.currency != currency:
                raise ProductUnavailable(f"{product.name} can't be bought in {currency}.")
            quantity_parse(item.quantity)
            _check_stock(product=product, quantity=item.quantity)
            unit_price = quantize_money(product.price)
            line_total = quantize_money(unit_price * item.quantity)
            subtotal += line_total
            lines.append((product, item.quantity, unit_price, line_total))
        subtotal = quantize_money(subtotal)
        order = _order_insert(
            email=email,
            name=name,
            currency=currency,
            subtotal=subtotal,
            total=subtotal,
            session_key=session_key or "",
        )
        OrderItem.objects.bulk_create(
            [
                OrderItem(
                    order=order,
                    product=product,
                    product_name=product.name,
                    unit_price=unit_price,
                    quantity=quantity,
                    line_total=line_total,
                )
                for product, quantity, unit_price, line_total in lines
            ]
        )
        for product, quantity, _, _ in lines:
            if product.stock is not None:
                Product.objects.filter(pk=product.pk).update(stock=F("stock") - quantity)
        CartItem.objects.filter(cart=cart).delete()
    logger.info(
        "Order %s: created as %s, total %s %s", order.public_id, order.number, order.total, currency
    )
    return order


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
