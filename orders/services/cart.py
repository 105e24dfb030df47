"""The cart: lines per browser session, and the one price computation.

``cart_price_lines`` prices cart lines from the current products (Decimal, cents, ROUND_HALF_UP);
the cart page (``orders.selectors.cart_summary``) and checkout (the charged total) both use it,
so what the shopper sees is what is charged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders.exceptions import InvalidQuantity, MixedCart, OutOfStock, ProductUnavailable
from orders.inputs import quantity_parse
from orders.models import Cart, CartItem, Product
from orders.money import quantize_money


@dataclass(frozen=True)
class PricedLine:
    item: CartItem
    product: Product
    quantity: int
    unit_price: Decimal
    line_total: Decimal

    @property
    def available(self) -> bool:
        stock = self.product.stock
        return self.product.is_active and (stock is None or stock >= self.quantity)


def cart_price_lines(
    items: Iterable[CartItem], *, products: dict[int, Product] | None = None
) -> tuple[list[PricedLine], Decimal]:
    """Price ``items`` (with their products, or those in ``products`` by id): the lines and their
    subtotal, each in cents. No query when the products are at hand."""
    lines = []
    subtotal = Decimal("0")
    for item in items:
        product = products[item.product_id] if products is not None else item.product
        unit_price = quantize_money(product.price)
        line_total = quantize_money(unit_price * item.quantity)
        subtotal += line_total
        lines.append(PricedLine(item, product, item.quantity, unit_price, line_total))
    return lines, quantize_money(subtotal)


def cart_get_for_session(*, session_key: str | None, create: bool = False) -> Cart | None:
    """The cart of a browser session; created when ``create`` is true, else None if absent."""
    if not session_key:
        return None
    if create:
        cart, _ = Cart.objects.get_or_create(session_key=session_key)
        return cart
    return Cart.objects.filter(session_key=session_key).first()


def stock_check(*, product: Product, quantity: int) -> None:
    """Raise ``OutOfStock`` when ``quantity`` of ``product`` is more than there is."""
    if product.stock is not None and quantity > product.stock:
        if product.stock == 0:
            raise OutOfStock(f"{product.name} is out of stock.")
        raise OutOfStock(f"Only {product.stock} of {product.name} left in stock.")


PLAN_RULE = "One order holds either one-time items or one recurring plan."


def plan_quantity_check(*, product: Product, quantity: int) -> None:
    """A recurring plan is bought one at a time: ``InvalidQuantity`` for more."""
    if product.is_recurring and quantity > 1:
        raise InvalidQuantity(f"{product.name} is a recurring plan: one per order.")


def plan_mix_check(*, products: Iterable[Product], adding: Product | None = None) -> None:
    """Raise ``MixedCart`` (the rule, in words for the shopper) when ``products`` (the cart's),
    with ``adding``, would mix a recurring plan with anything else."""
    others = [p for p in products if adding is None or p.pk != adding.pk]
    if adding is None:
        plans = [p for p in others if p.is_recurring]
        if plans and len(others) > 1:
            raise MixedCart(
                f"{PLAN_RULE} Your cart holds the plan {plans[0].name} and other items: "
                f"remove {plans[0].name} or the other items, then check out."
            )
        return
    if not others:
        return
    if adding.is_recurring:
        raise MixedCart(
            f"{adding.name} is a recurring plan. {PLAN_RULE} Check out the items in your cart "
            f"first (or remove them), then add {adding.name}."
        )
    plan = next((p for p in others if p.is_recurring), None)
    if plan is not None:
        raise MixedCart(
            f"Your cart holds the plan {plan.name}. {PLAN_RULE} Check out {plan.name} first "
            f"(or remove it), then add {adding.name}."
        )


def cart_add_item(*, cart: Cart, product: Product, quantity: int) -> CartItem:
    """Add ``quantity`` of ``product`` (adding to a line already in the cart).

    Raises ``InvalidQuantity`` (also when the line would exceed the maximum, or hold more than
    one of a plan), ``ProductUnavailable`` for an inactive product, ``OutOfStock``, ``MixedCart``
    when a recurring plan would share the cart with anything else.
    """
    quantity = quantity_parse(quantity)
    if not product.is_active:
        raise ProductUnavailable(f"{product.name} is not available.")
    with transaction.atomic():
        item = CartItem.objects.select_for_update().filter(cart=cart, product=product).first()
        new_quantity = quantity + (item.quantity if item else 0)
        if item is None:
            in_cart = Product.objects.filter(
                pk__in=CartItem.objects.filter(cart=cart).values("product_id")
            )
            plan_mix_check(products=list(in_cart), adding=product)
        plan_quantity_check(product=product, quantity=new_quantity)
        if new_quantity > settings.CART_MAX_QUANTITY:
            raise InvalidQuantity(
                f"You can have at most {settings.CART_MAX_QUANTITY} of {product.name} in your cart."
            )
        stock_check(product=product, quantity=new_quantity)
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
    plan_quantity_check(product=line.product, quantity=quantity)
    stock_check(product=line.product, quantity=quantity)
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
