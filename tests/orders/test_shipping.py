"""Shipping at checkout: an address only when the cart ships, validated on the server, kept as a
snapshot on the order; the method's price in the total."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from orders.exceptions import CheckoutError
from orders.models import CartItem, Order, ShippingMethod
from orders.services import order_create_from_cart
from tests.factories import cart_with_items, membership_create, product_create

pytestmark = pytest.mark.django_db

ADDRESS = {
    "shipping_name": "Ada Lovelace",
    "shipping_line1": "12 Analytical Row",
    "shipping_line2": "Flat 3",
    "shipping_city": "London",
    "shipping_postal_code": "NW1 6XE",
    "shipping_region": "Greater London",
    "shipping_country": "GB",
    "shipping_phone": "+44 20 7946 0958",
}


def method_create(**fields) -> ShippingMethod:
    fields.setdefault("name", "Standard")
    fields.setdefault("price", Decimal("4.90"))
    return ShippingMethod.objects.create(**fields)


def _mug():
    return product_create(name="Mug", price="19.90", requires_shipping=True)


def place(cart, *, shipping=None, method=None, **kw):
    return order_create_from_cart(
        cart=cart,
        email="ada@example.com",
        name="Ada",
        shipping=shipping,
        shipping_method=method,
        **kw,
    )


# --- the order ----------------------------------------------------------------------------------


def test_the_order_keeps_the_address_and_method_and_the_total_includes_shipping():
    method = method_create(countries=["GB", "IE"])
    cart = cart_with_items(items=[(_mug(), 2)])

    order = place(cart, shipping=ADDRESS, method=method.pk)

    order.refresh_from_db()
    assert order.requires_shipping is True
    assert order.subtotal == Decimal("39.80")
    assert order.shipping_price == Decimal("4.90")
    assert order.total == Decimal("44.70")
    assert order.shipping_method == method
    assert order.shipping_method_name == "Standard"
    assert order.fulfilment_status == Order.Fulfilment.UNFULFILLED
    for name, value in ADDRESS.items():
        assert str(getattr(order, name)) == value, name
    assert order.shipping_address_lines == [
        "Ada Lovelace",
        "12 Analytical Row",
        "Flat 3",
        "NW1 6XE London",
        "Greater London",
        "United Kingdom",
    ]
    assert "by Standard to London, GB" in order.history.get(kind="created").message


def test_shipping_is_free_from_the_methods_threshold():
    method = method_create(free_over=Decimal("39.80"))
    order = place(cart_with_items(items=[(_mug(), 2)]), shipping=ADDRESS, method=method.pk)

    assert order.shipping_price == Decimal("0.00")
    assert order.total == Decimal("39.80")


def test_the_address_snapshot_survives_later_edits_of_the_method_and_product():
    method = method_create()
    product = _mug()
    order = place(cart_with_items(items=[(product, 1)]), shipping=ADDRESS, method=method.pk)

    ShippingMethod.objects.filter(pk=method.pk).update(name="Renamed", price=Decimal("99.00"))
    product.requires_shipping = False
    product.save()
    method.delete()

    order.refresh_from_db()
    assert order.shipping_method is None  # the method is gone; its snapshot stays
    assert order.shipping_method_name == "Standard"
    assert order.shipping_price == Decimal("4.90")
    assert order.total == Decimal("24.80")
    assert order.requires_shipping is True
    assert order.shipping_line1 == "12 Analytical Row"


def test_a_cart_that_does_not_ship_stores_no_address():
    method = method_create()
    cart = cart_with_items(prices=["7.35"])

    order = place(cart, shipping=ADDRESS, method=method.pk)

    assert order.requires_shipping is False
    assert order.fulfilment_status == Order.Fulfilment.NOT_REQUIRED
    assert order.shipping_line1 == ""
    assert order.shipping_price == Decimal("0.00")
    assert order.total == Decimal("7.35")
    assert order.shipping_address_lines == []


BAD_ADDRESSES = [
    ("shipping_line1", "x" * 201, "at most 200 characters"),
    ("shipping_city", "y" * 101, "at most 100 characters"),
    ("shipping_postal_code", "1" * 21, "at most 20 characters"),
    ("shipping_name", "Ada\x00Lovelace", "control characters"),
    ("shipping_line1", "12 Row\nDROP", "control characters"),
    ("shipping_city", "Lon\tdon", "control characters"),
    ("shipping_region", "\x1b[31mred", "control characters"),
    ("shipping_line2", "Flat \u202e3", "control characters"),
    ("shipping_line1", "   ", "Please enter the address"),
    ("shipping_city", "", "Please enter the city"),
    ("shipping_country", "", "choose the country"),
    ("shipping_country", "XX", "country from the list"),
    ("shipping_country", "GBR", "country from the list"),
    ("shipping_phone", "call me maybe", "phone number"),
    ("shipping_phone", "+" + "1" * 40, "at most 32 characters"),
]


@pytest.mark.parametrize(("field", "value", "words"), BAD_ADDRESSES)
def test_a_bad_address_is_refused_and_nothing_is_stored(field, value, words):
    method = method_create()
    cart = cart_with_items(items=[(_mug(), 1)])

    with pytest.raises(CheckoutError, match=words) as caught:
        place(cart, shipping={**ADDRESS, field: value}, method=method.pk)

    assert caught.value.field == field
    assert Order.objects.count() == 0
    assert CartItem.objects.filter(cart=cart).count() == 1


def test_a_country_outside_the_methods_list_is_refused():
    method = method_create(name="UK post", countries=["GB"])
    cart = cart_with_items(items=[(_mug(), 1)])

    with pytest.raises(CheckoutError, match="UK post does not deliver to France") as caught:
        place(cart, shipping={**ADDRESS, "shipping_country": "FR"}, method=method.pk)

    assert caught.value.field == "shipping_method"
    assert Order.objects.count() == 0


@pytest.mark.parametrize("method", [None, "", "abc", "99999", "-1"])
def test_a_missing_or_unknown_method_is_refused(method):
    method_create()
    with pytest.raises(CheckoutError) as caught:
        place(cart_with_items(items=[(_mug(), 1)]), shipping=ADDRESS, method=method)

    assert caught.value.field == "shipping_method"
    assert Order.objects.count() == 0


def test_an_inactive_or_foreign_currency_method_is_refused():
    inactive = method_create(is_active=False)
    euro = method_create(currency="EUR")
    for method in (inactive, euro):
        with pytest.raises(CheckoutError, match="not available"):
            place(cart_with_items(items=[(_mug(), 1)]), shipping=ADDRESS, method=method.pk)
    assert Order.objects.count() == 0


def test_a_cart_that_ships_needs_an_address():
    method = method_create()
    with pytest.raises(CheckoutError, match="address"):
        place(cart_with_items(items=[(_mug(), 1)]), shipping=None, method=method.pk)
    assert Order.objects.count() == 0


def test_a_recurring_plan_cannot_be_marked_as_shipping():
    plan = membership_create()
    plan.requires_shipping = True

    with pytest.raises(ValidationError, match="doesn't ship"):
        plan.full_clean()


# --- the checkout page --------------------------------------------------------------------------


def _cart_in_session(client, product, quantity=1):
    client.post("/cart/add/", {"product": product.slug, "quantity": quantity})


def test_checkout_asks_for_an_address_only_when_the_cart_ships(client):
    method_create(name="Standard")
    notebook = product_create(name="Notebook", price="7.35")
    _cart_in_session(client, notebook)

    page = client.get("/checkout/").content.decode()
    assert "Shipping address" not in page
    assert 'name="shipping_line1"' not in page

    _cart_in_session(client, _mug())
    page = client.get("/checkout/").content.decode()
    assert "Shipping address" in page
    for name in ("shipping_name", "shipping_line1", "shipping_line2", "shipping_city"):
        assert f'name="{name}"' in page
    assert 'name="shipping_country"' in page
    assert 'name="shipping_method"' in page
    assert "Standard" in page
    assert "$4.90" in page


def test_checkout_form_places_the_order_with_its_address(client):
    method = method_create()
    _cart_in_session(client, _mug())

    response = client.post(
        "/checkout/",
        {"email": "ada@example.com", "name": "Ada", **ADDRESS, "shipping_method": method.pk},
    )

    assert response.status_code == 302
    order = Order.objects.get()
    assert order.shipping_city == "London"
    assert order.total == Decimal("24.80")
    page = client.get(response["Location"]).content.decode()
    assert "12 Analytical Row" in page
    assert "Standard" in page
    assert "Not shipped yet" in page


def test_checkout_form_shows_the_address_error_next_to_the_field_and_stores_nothing(client):
    method = method_create(countries=["GB"])
    _cart_in_session(client, _mug())

    response = client.post(
        "/checkout/",
        {
            "email": "ada@example.com",
            "name": "Ada",
            **ADDRESS,
            "shipping_country": "DE",
            "shipping_method": method.pk,
        },
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "does not deliver to Germany" in page
    assert Order.objects.count() == 0

    response = client.post(
        "/checkout/",
        {
            "email": "ada@example.com",
            "name": "Ada",
            **ADDRESS,
            "shipping_city": "Lon\x00don",
            "shipping_method": method.pk,
        },
    )
    assert response.status_code == 400
    assert "without control characters" in response.content.decode()
    assert Order.objects.count() == 0


def test_checkout_json_takes_a_nested_address_and_ignores_a_posted_price(client):
    method = method_create()
    _cart_in_session(client, _mug())

    response = client.post(
        "/checkout/",
        json.dumps(
            {
                "email": "ada@example.com",
                "name": "Ada",
                "shipping_address": ADDRESS,
                "shipping_method": method.pk,
                "shipping_price": "0.00",
                "total": "0.01",
            }
        ),
        content_type="application/json",
        headers={"accept": "application/json"},
    )

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert (data["subtotal"], data["shipping"], data["total"]) == ("19.90", "4.90", "24.80")


def test_checkout_json_with_a_bad_address_is_a_clear_400(client):
    method = method_create()
    _cart_in_session(client, _mug())

    response = client.post(
        "/checkout/",
        json.dumps(
            {
                "email": "ada@example.com",
                "name": "Ada",
                **ADDRESS,
                "shipping_line1": "a" * 500,
                "shipping_method": method.pk,
            }
        ),
        content_type="application/json",
        headers={"accept": "application/json"},
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_checkout"
    assert "at most 200 characters" in error["message"]
    assert Order.objects.count() == 0


def test_checkout_form_shows_every_address_problem_at_once(client):
    method = method_create()
    _cart_in_session(client, _mug())

    response = client.post(
        "/checkout/",
        {
            "email": "ada@example.com",
            "name": "Ada",
            **ADDRESS,
            "shipping_line1": "",
            "shipping_city": "a" * 101,
            "shipping_country": "ZZ",
            "shipping_method": method.pk,
        },
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Please enter the address." in page
    assert "Please enter the city in at most 100 characters." in page
    assert "Please choose a country from the list." in page
    assert Order.objects.count() == 0
