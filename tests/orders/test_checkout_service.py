"""order_create_from_cart: snapshot, server-side totals, stock, empty cart, order numbers."""

import re
from decimal import Decimal

import pytest
from django.db import IntegrityError

from orders.exceptions import CartEmpty, CheckoutError, OrderError, OutOfStock, ProductUnavailable
from orders.models import Order, OrderItem, Product
from orders.services import checkout, order_create_from_cart
from tests.factories import cart_create, cart_with_items, order_create, product_create

pytestmark = pytest.mark.django_db


def _checkout(cart, **kwargs):
    data = {"email": "ann@example.com", "name": "Ann Buyer", "session_key": cart.session_key}
    data.update(kwargs)
    return order_create_from_cart(cart=cart, **data)


def test_order_snapshots_lines_and_totals_and_empties_the_cart():
    mug = product_create(name="Mug", price="19.90")
    sticker = product_create(name="Sticker", price="0.10")
    cart = cart_with_items(items=[(mug, 2), (sticker, 3)])

    order = _checkout(cart)

    assert order.status == Order.Status.PENDING
    assert order.total == order.subtotal == Decimal("40.10")
    assert order.currency == "USD"
    assert order.email == "ann@example.com"
    assert order.name == "Ann Buyer"
    assert order.session_key == cart.session_key
    lines = list(order.items.values_list("product_name", "unit_price", "quantity", "line_total"))
    assert lines == [
        ("Mug", Decimal("19.90"), 2, Decimal("39.80")),
        ("Sticker", Decimal("0.10"), 3, Decimal("0.30")),
    ]
    assert cart.items.count() == 0


def test_order_lines_do_not_change_when_the_product_does():
    product = product_create(name="Mug", price="19.90")
    order = _checkout(cart_with_items(items=[(product, 1)]))

    Product.objects.filter(pk=product.pk).update(name="Renamed", price=Decimal("99.00"))

    line = OrderItem.objects.get(order=order)
    assert (line.product_name, line.unit_price) == ("Mug", Decimal("19.90"))


def test_order_uses_current_prices_not_the_price_at_add_time():
    product = product_create(price="10.00")
    cart = cart_with_items(items=[(product, 2)])
    Product.objects.filter(pk=product.pk).update(price=Decimal("12.50"))

    order = _checkout(cart)

    assert order.total == Decimal("25.00")


def test_order_number_looks_human_and_uses_the_prefix(settings):
    settings.ORDER_NUMBER_PREFIX = "SF"

    order = _checkout(cart_with_items(prices=["1.00"]))

    assert re.fullmatch(r"SF-\d{6}-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{5}", order.number)


def test_order_number_collision_draws_another(monkeypatch):
    order_create(number="SF-251125-AAAAA")
    numbers = iter(["SF-251125-AAAAA", "SF-251125-BBBBB"])
    monkeypatch.setattr(checkout, "order_number_generate", lambda: next(numbers))

    order = _checkout(cart_with_items(prices=["1.00"]))

    assert order.number == "SF-251125-BBBBB"
    assert Order.objects.count() == 2


def test_order_number_collisions_forever_give_a_clean_error(monkeypatch):
    order_create(number="SF-251125-AAAAA")
    monkeypatch.setattr(checkout, "order_number_generate", lambda: "SF-251125-AAAAA")
    cart = cart_with_items(prices=["1.00"])

    with pytest.raises(OrderError):
        _checkout(cart)

    assert Order.objects.count() == 1
    assert cart.items.count() == 1


def test_other_integrity_errors_are_not_swallowed(monkeypatch):
    def broken(**fields):
        raise IntegrityError("something else")

    monkeypatch.setattr(Order.objects, "create", broken)

    with pytest.raises(IntegrityError):
        _checkout(cart_with_items(prices=["1.00"]))


def test_empty_cart_raises_cart_empty():
    with pytest.raises(CartEmpty):
        _checkout(cart_create())
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("email", "name"),
    [("not-an-email", "Ann"), ("", "Ann"), ("a@b", "Ann"), ("ann@example.com", "   ")],
)
def test_bad_details_raise_and_write_nothing(email, name):
    cart = cart_with_items(prices=["1.00"])

    with pytest.raises(CheckoutError):
        _checkout(cart, email=email, name=name)

    assert Order.objects.count() == 0
    assert cart.items.count() == 1


def test_inactive_product_in_cart_refuses_checkout():
    product = product_create(name="Gone")
    cart = cart_with_items(items=[(product, 1)])
    Product.objects.filter(pk=product.pk).update(is_active=False)

    with pytest.raises(ProductUnavailable, match="Gone"):
        _checkout(cart)

    assert Order.objects.count() == 0


def test_stock_is_checked_and_decremented():
    tracked = product_create(stock=5)
    untracked = product_create(stock=None)
    order = _checkout(cart_with_items(items=[(tracked, 3), (untracked, 4)]))

    tracked.refresh_from_db()
    untracked.refresh_from_db()
    assert order.items.count() == 2
    assert tracked.stock == 2
    assert untracked.stock is None

    cart = cart_with_items(items=[(tracked, 3)])
    with pytest.raises(OutOfStock):
        _checkout(cart)
    tracked.refresh_from_db()
    assert tracked.stock == 2
    assert cart.items.count() == 1
