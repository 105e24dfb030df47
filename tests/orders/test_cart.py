"""Cart services and the cart summary's Decimal arithmetic."""

from decimal import Decimal

import pytest

from orders.exceptions import InvalidQuantity, OutOfStock, ProductUnavailable
from orders.models import Cart
from orders.money import quantize_money
from orders.selectors import cart_item_count, cart_summary
from orders.services import (
    cart_add_item,
    cart_get_for_session,
    cart_remove_item,
    cart_set_quantity,
    quantity_parse,
)
from tests.factories import cart_create, cart_with_items, product_create

pytestmark = pytest.mark.django_db


def test_point_one_plus_point_two_is_exactly_point_three():
    cart = cart_with_items(prices=["0.10", "0.20"])

    summary = cart_summary(cart=cart)

    assert summary.total == Decimal("0.30")
    assert str(summary.total) == "0.30"
    assert isinstance(summary.total, Decimal)


def test_many_small_lines_add_up_without_drift():
    products = [product_create(price="0.10") for _ in range(30)]
    cart = cart_with_items(items=[(p, 3) for p in products])

    summary = cart_summary(cart=cart)

    assert summary.total == Decimal("9.00")
    assert summary.count == 90
    assert len(summary.lines) == 30


def test_line_totals_and_total_with_mixed_prices():
    cheap, mid, big = (product_create(price=p) for p in ("0.10", "19.90", "1250.00"))
    cart = cart_with_items(items=[(cheap, 7), (mid, 3), (big, 2)])

    summary = cart_summary(cart=cart)

    assert [line.line_total for line in summary.lines] == [
        Decimal("0.70"),
        Decimal("59.70"),
        Decimal("2500.00"),
    ]
    assert summary.subtotal == summary.total == Decimal("2560.40")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("0.125", "0.13"), ("0.124", "0.12"), ("2.675", "2.68"), ("0.005", "0.01"), ("1", "1.00")],
)
def test_money_rounds_half_up_to_cents(amount, expected):
    assert quantize_money(Decimal(amount)) == Decimal(expected)
    assert str(quantize_money(amount)) == expected


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        quantize_money(0.1)


def test_summary_amounts_are_two_place_decimals():
    cart = cart_with_items(
        items=[(product_create(price="1250"), 1), (product_create(price="0.1"), 3)]
    )

    summary = cart_summary(cart=cart)

    assert [str(line.line_total) for line in summary.lines] == ["1250.00", "0.30"]
    assert str(summary.total) == "1250.30"
    assert summary.as_dict()["total"] == "1250.30"


def test_empty_or_missing_cart_summary_is_zero():
    assert cart_summary(cart=None).total == Decimal("0.00")
    assert cart_summary(cart=None).is_empty
    assert cart_summary(cart=cart_create()).lines == []


def test_cart_get_for_session_creates_only_when_asked():
    assert cart_get_for_session(session_key="abc") is None
    assert Cart.objects.count() == 0

    cart = cart_get_for_session(session_key="abc", create=True)

    assert cart_get_for_session(session_key="abc") == cart
    assert cart_get_for_session(session_key="abc", create=True) == cart
    assert cart_get_for_session(session_key="", create=True) is None


def test_cart_add_item_adds_to_an_existing_line():
    product = product_create(price="2.50")
    cart = cart_create()

    cart_add_item(cart=cart, product=product, quantity=2)
    item = cart_add_item(cart=cart, product=product, quantity=3)

    assert item.quantity == 5
    assert cart.items.count() == 1
    assert cart_summary(cart=cart).total == Decimal("12.50")
    assert cart_item_count(session_key=cart.session_key) == 5


@pytest.mark.parametrize("quantity", [0, -1, 100, 10**9, "abc", "1.5", "", None, True, 2.0])
def test_cart_add_item_refuses_bad_quantities(quantity):
    cart = cart_create()

    with pytest.raises(InvalidQuantity):
        cart_add_item(cart=cart, product=product_create(), quantity=quantity)

    assert cart.items.count() == 0


def test_cart_add_item_refuses_going_over_the_maximum_in_total():
    product = product_create()
    cart = cart_with_items(items=[(product, 98)])

    with pytest.raises(InvalidQuantity):
        cart_add_item(cart=cart, product=product, quantity=2)

    assert cart.items.get().quantity == 98


def test_cart_add_item_refuses_inactive_products():
    cart = cart_create()

    with pytest.raises(ProductUnavailable):
        cart_add_item(cart=cart, product=product_create(is_active=False), quantity=1)

    assert cart.items.count() == 0


def test_cart_add_item_respects_stock():
    product = product_create(stock=2)
    cart = cart_create()

    with pytest.raises(OutOfStock):
        cart_add_item(cart=cart, product=product, quantity=3)
    with pytest.raises(OutOfStock):
        cart_add_item(cart=cart, product=product_create(stock=0), quantity=1)

    assert cart_add_item(cart=cart, product=product, quantity=2).quantity == 2


def test_cart_set_quantity_changes_and_zero_removes():
    product = product_create(price="3.00")
    cart = cart_with_items(items=[(product, 1)])

    item = cart_set_quantity(cart=cart, product=product, quantity=4)
    assert item.quantity == 4
    assert cart_summary(cart=cart).total == Decimal("12.00")

    assert cart_set_quantity(cart=cart, item=item, quantity=0) is None
    assert cart.items.count() == 0


@pytest.mark.parametrize("quantity", [-1, 100, "x"])
def test_cart_set_quantity_refuses_bad_quantities(quantity):
    product = product_create()
    cart = cart_with_items(items=[(product, 2)])

    with pytest.raises(InvalidQuantity):
        cart_set_quantity(cart=cart, product=product, quantity=quantity)

    assert cart.items.get().quantity == 2


def test_cart_set_quantity_of_a_product_not_in_the_cart_raises():
    with pytest.raises(ProductUnavailable):
        cart_set_quantity(cart=cart_create(), product=product_create(), quantity=1)


def test_cart_remove_item_removes_and_is_idempotent():
    product, other = product_create(), product_create()
    cart = cart_with_items(items=[(product, 1), (other, 2)])

    cart_remove_item(cart=cart, product=product)
    cart_remove_item(cart=cart, product=product)

    assert list(cart.items.values_list("product_id", flat=True)) == [other.pk]


def test_carts_are_isolated_per_session():
    product = product_create()
    mine = cart_with_items(items=[(product, 1)])
    theirs = cart_create()

    cart_remove_item(cart=theirs, item=mine.items.get())

    assert mine.items.count() == 1


@pytest.mark.parametrize(
    ("value", "expected"), [("1", 1), (" 7 ", 7), (99, 99), ("099", 99), (0, None)]
)
def test_quantity_parse(value, expected):
    if expected is None:
        with pytest.raises(InvalidQuantity):
            quantity_parse(value)
        assert quantity_parse(value, allow_zero=True) == 0
    else:
        assert quantity_parse(value) == expected
