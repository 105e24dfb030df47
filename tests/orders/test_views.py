"""Shop pages through the test client: browsing, cart, checkout, bad input, order access."""

import json
import uuid
from decimal import Decimal

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from orders.access import order_access_key, order_signed_url
from orders.models import CartItem, Order
from tests.factories import cart_with_items, order_create, product_create

pytestmark = pytest.mark.django_db

CART = reverse("orders:cart")
ADD = reverse("orders:cart-add")
UPDATE = reverse("orders:cart-update")
REMOVE = reverse("orders:cart-remove")
CHECKOUT = reverse("orders:checkout")


def _cart_lines(client):
    key = client.session.session_key
    return dict(
        CartItem.objects.filter(cart__session_key=key).values_list("product__slug", "quantity")
    )


def _json_post(client, url, data):
    return client.post(
        url, data=json.dumps(data), content_type="application/json", HTTP_ACCEPT="application/json"
    )


def _place_order(client, *products, email="ann@example.com", name="Ann Buyer"):
    for product, quantity in products:
        client.post(ADD, {"product": product.slug, "quantity": quantity})
    response = client.post(CHECKOUT, {"email": email, "name": name})
    assert response.status_code == 302, response.content.decode()
    return Order.objects.get(email=email), response


# --- Browsing ---


def test_catalog_lists_active_products_only(client):
    product_create(name="Blue mug", price="19.90")
    product_create(name="Hidden thing", is_active=False)

    response = client.get(reverse("orders:catalog"))

    assert response.status_code == 200
    assert "Blue mug" in response.content.decode()
    assert "$19.90" in response.content.decode()
    assert "Hidden thing" not in response.content.decode()


def test_product_page_shows_the_product(client):
    product = product_create(name="Blue mug", price="1250.00", description="Big.")

    response = client.get(product.get_absolute_url())

    assert response.status_code == 200
    assert "$1,250.00" in response.content.decode()
    assert "Big." in response.content.decode()


@pytest.mark.parametrize("slug", ["no-such-product", "inactive"])
def test_unknown_or_inactive_product_page_is_404(client, slug):
    product_create(slug="inactive", is_active=False)

    response = client.get(reverse("orders:product-detail", kwargs={"slug": slug}))

    assert response.status_code == 404


# --- Cart ---


def test_add_update_remove_through_the_pages(client):
    mug = product_create(slug="mug", price="19.90")
    sticker = product_create(slug="sticker", price="0.10")

    response = client.post(ADD, {"product": "mug", "quantity": "2"})
    assert response.status_code == 302
    assert response["Location"] == CART
    client.post(ADD, {"product": "sticker"})
    client.post(ADD, {"product": "sticker", "quantity": "2"})
    assert _cart_lines(client) == {"mug": 2, "sticker": 3}

    page = client.get(CART)
    assert page.status_code == 200
    assert page.context["summary"].total == Decimal("40.10")
    assert "$40.10" in page.content.decode()

    client.post(UPDATE, {"product": mug.slug, "quantity": "5"})
    assert _cart_lines(client) == {"mug": 5, "sticker": 3}
    client.post(UPDATE, {"product": sticker.slug, "quantity": "0"})
    assert _cart_lines(client) == {"mug": 5}
    client.post(REMOVE, {"product": mug.slug})
    assert _cart_lines(client) == {}
    assert "Your cart is empty" in client.get(CART).content.decode()


def test_cart_survives_in_the_database_for_the_session(client):
    product_create(slug="mug")
    client.post(ADD, {"product": "mug", "quantity": "1"})

    again = Client()
    again.cookies = client.cookies

    assert again.get(CART).context["summary"].count == 1


def test_header_shows_the_cart_count(client):
    product_create(slug="mug")
    client.post(ADD, {"product": "mug", "quantity": "3"})

    response = client.get(reverse("orders:catalog"))

    assert "data-cart-count>3<" in response.content.decode()


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "between 1 and 99"),
        ("-1", "between 1 and 99"),
        ("100", "between 1 and 99"),
        ("1000000000000", "between 1 and 99"),
        ("abc", "between 1 and 99"),
        ("1.5", "between 1 and 99"),
    ],
)
def test_add_with_bad_quantity_shows_a_message_and_changes_nothing(client, quantity, message):
    product_create(slug="mug")

    response = client.post(ADD, {"product": "mug", "quantity": quantity})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert _cart_lines(client) == {}


@pytest.mark.parametrize("quantity", [0, -3, 100, "abc", None, 1.5, [1]])
def test_add_with_bad_quantity_as_json_gives_a_json_400(client, quantity):
    product_create(slug="mug")

    response = _json_post(client, ADD, {"product": "mug", "quantity": quantity})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_quantity"
    assert response.json()["error"]["message"]


@pytest.mark.parametrize("reference", ["no-such-thing", "inactive", "", "999999", "../../etc"])
def test_add_unknown_or_inactive_product_is_refused(client, reference):
    product_create(slug="inactive", is_active=False)

    response = client.post(ADD, {"product": reference, "quantity": "1"})
    json_response = _json_post(client, ADD, {"product": reference, "quantity": 1})

    assert response.status_code == 400
    assert "not available" in response.content.decode()
    assert json_response.status_code == 400
    assert json_response.json()["error"]["code"] == "product_unavailable"
    assert CartItem.objects.count() == 0


def test_add_over_stock_is_refused_with_a_message(client):
    product_create(slug="bike", name="Bike", stock=1)

    response = client.post(ADD, {"product": "bike", "quantity": "2"})

    assert response.status_code == 400
    assert "Only 1 of Bike left" in response.content.decode()


def test_json_add_returns_the_cart(client):
    product_create(slug="mug", price="0.10")
    _json_post(client, ADD, {"product": "mug", "quantity": 1})

    response = _json_post(client, ADD, {"product": "mug", "quantity": 2})

    assert response.status_code == 200
    cart = response.json()["data"]["cart"]
    assert cart["total"] == "0.30"
    assert cart["count"] == 3


def test_malformed_json_is_a_400(client):
    response = client.post(
        ADD, data=b"{not json", content_type="application/json", HTTP_ACCEPT="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("quantity", ["-1", "100", "x", ""])
def test_update_with_bad_quantity_is_refused(client, quantity):
    product_create(slug="mug")
    client.post(ADD, {"product": "mug", "quantity": "2"})

    response = client.post(UPDATE, {"product": "mug", "quantity": quantity})

    assert response.status_code == 400
    assert "between 0 and 99" in response.content.decode()
    assert _cart_lines(client) == {"mug": 2}


def test_update_of_a_product_not_in_the_cart_is_a_400(client):
    product_create(slug="mug")

    response = client.post(UPDATE, {"product": "mug", "quantity": "1"})

    assert response.status_code == 400
    assert "not in your cart" in response.content.decode()


def test_posted_prices_are_ignored(client):
    product_create(slug="mug", price="19.90")

    client.post(ADD, {"product": "mug", "quantity": "1", "price": "0.01", "total": "0.01"})

    assert client.get(CART).context["summary"].total == Decimal("19.90")


# --- Checkout ---


def test_checkout_flow_places_the_order_and_opens_its_page(client):
    mug = product_create(slug="mug", name="Mug", price="19.90")
    sticker = product_create(slug="sticker", name="Sticker", price="0.10")

    order, response = _place_order(client, (mug, 2), (sticker, 1))

    assert response["Location"] == order.get_absolute_url()
    assert order.total == Decimal("39.90")
    assert order.status == Order.Status.PENDING
    assert order.session_key == client.session.session_key
    assert _cart_lines(client) == {}
    page = client.get(response["Location"])
    assert page.status_code == 200
    content = page.content.decode()
    assert order.number in content
    assert "$39.90" in content
    assert "Mug" in content
    assert "Sticker" in content
    assert "Pending" in content
    assert "Awaiting payment" in content
    assert order_access_key(order=order) in content  # the link to keep


def test_checkout_ignores_tampered_price_and_total(client):
    product_create(slug="mug", price="19.90")
    client.post(ADD, {"product": "mug", "quantity": "2"})

    client.post(
        CHECKOUT,
        {
            "email": "ann@example.com",
            "name": "Ann",
            "total": "0.01",
            "subtotal": "0.01",
            "price": "0.01",
            "currency": "XXX",
            "status": "paid",
        },
    )

    order = Order.objects.get()
    assert order.total == Decimal("39.80")
    assert order.currency == "USD"
    assert order.status == Order.Status.PENDING
    assert order.items.get().unit_price == Decimal("19.90")


def test_checkout_page_with_an_empty_cart_says_so(client):
    response = client.get(CHECKOUT)

    assert response.status_code == 200
    assert "Your cart is empty" in response.content.decode()


def test_checkout_post_with_an_empty_cart_is_refused(client):
    response = client.post(CHECKOUT, {"email": "ann@example.com", "name": "Ann"})
    json_response = _json_post(client, CHECKOUT, {"email": "ann@example.com", "name": "Ann"})

    assert response.status_code == 400
    assert "Your cart is empty" in response.content.decode()
    assert json_response.status_code == 400
    assert json_response.json()["error"]["code"] == "cart_empty"
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "nope", "name": "Ann"}, "Please enter a valid e-mail address."),
        ({"email": "", "name": "Ann"}, "Please enter your e-mail address."),
        ({"email": "ann@example.com", "name": ""}, "Please enter your name."),
        ({"email": "ann@example.com", "name": "   "}, "Please enter your name."),
        ({"email": "ann@example.com"}, "Please enter your name."),
    ],
)
def test_checkout_with_bad_details_shows_inline_errors(client, data, message):
    product_create(slug="mug")
    client.post(ADD, {"product": "mug", "quantity": "1"})

    response = client.post(CHECKOUT, data)

    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert message in response.content.decode()
    assert Order.objects.count() == 0
    assert _cart_lines(client) == {"mug": 1}


def test_checkout_as_json(client):
    product_create(slug="mug", price="0.10")
    _json_post(client, ADD, {"product": "mug", "quantity": 2})

    bad = _json_post(client, CHECKOUT, {"email": "nope", "name": "Ann"})
    good = _json_post(client, CHECKOUT, {"email": "ann@example.com", "name": "Ann"})

    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_checkout"
    assert good.status_code == 201
    data = good.json()["data"]
    assert data["total"] == "0.20"
    assert data["order"] == str(Order.objects.get().public_id)


def test_checkout_with_a_withdrawn_product_says_which(client):
    product = product_create(slug="mug", name="Mug")
    client.post(ADD, {"product": "mug", "quantity": "1"})
    product.is_active = False
    product.save()

    response = client.post(CHECKOUT, {"email": "ann@example.com", "name": "Ann"})

    assert response.status_code == 400
    assert "Mug is no longer available" in response.content.decode()


# --- Order page access ---


def test_owner_session_sees_the_order(client):
    order, _ = _place_order(client, (product_create(), 1))

    assert client.get(order.get_absolute_url()).status_code == 200


def test_stranger_gets_404_and_the_same_page_as_an_unknown_id(client):
    order, _ = _place_order(client, (product_create(), 1))
    stranger = Client()

    theirs = stranger.get(order.get_absolute_url())
    unknown = stranger.get(reverse("orders:order-detail", kwargs={"public_id": uuid.uuid4()}))

    assert theirs.status_code == 404
    assert unknown.status_code == 404
    assert theirs.content == unknown.content
    assert order.number not in theirs.content.decode()


def test_signed_link_opens_the_order_in_another_browser_and_grants_the_session(client):
    order, _ = _place_order(client, (product_create(), 1))
    other = Client()

    response = other.get(order_signed_url(order=order))

    assert response.status_code == 200
    assert order.number in response.content.decode()
    assert other.get(order.get_absolute_url()).status_code == 200  # now without the key


@pytest.mark.parametrize(
    "key",
    ["forged", "", "x" * 300, "abc:def", "1a2b3c:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
)
def test_forged_key_gets_404(key):
    order = order_create()

    response = Client().get(f"{order.get_absolute_url()}?key={key}")

    assert response.status_code == 404


def test_key_of_another_order_gets_404():
    order, other = order_create(), order_create()

    response = Client().get(f"{order.get_absolute_url()}?key={order_access_key(order=other)}")

    assert response.status_code == 404


def test_expired_key_gets_404(settings, monkeypatch):
    settings.ORDER_LINK_MAX_AGE_DAYS = 1
    order = order_create()
    url = order_signed_url(order=order)
    real_time = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() + 2 * 24 * 3600)

    response = Client().get(url)

    assert response.status_code == 404


@pytest.mark.parametrize("public_id", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g"])
def test_malformed_order_id_gets_404(client, public_id):
    response = client.get(f"/orders/{public_id}/")

    assert response.status_code == 404


def test_order_page_shows_other_statuses():
    order = order_create(status=Order.Status.AWAITING_PAYMENT)

    response = Client().get(order_signed_url(order=order))

    assert "Awaiting payment" in response.content.decode()


# --- Query counts ---


@pytest.mark.parametrize("count", [2, 25])
def test_catalog_queries_do_not_grow_with_products(client, django_assert_max_num_queries, count):
    for _ in range(count):
        product_create()
    product_create(slug="mug")
    client.post(ADD, {"product": "mug", "quantity": "1"})

    with django_assert_max_num_queries(3):  # session, cart count, products
        response = client.get(reverse("orders:catalog"))

    assert len(response.context["products"]) == count + 1


@pytest.mark.parametrize("count", [1, 25])
def test_cart_queries_do_not_grow_with_lines(client, django_assert_max_num_queries, count):
    for _ in range(count):
        client.post(ADD, {"product": product_create().slug, "quantity": "2"})

    with django_assert_max_num_queries(4):  # session, cart, lines with products, cart count
        response = client.get(CART)

    assert len(response.context["summary"].lines) == count


def test_order_page_queries_do_not_grow_with_lines(client, django_assert_max_num_queries):
    products = [(product_create(), 1) for _ in range(20)]
    order, _ = _place_order(client, *products)

    with django_assert_max_num_queries(5):
        client.get(order.get_absolute_url())


@pytest.mark.parametrize(
    "data",
    [
        {"product": "mug", "quantity": "²"},
        {"product": "²", "quantity": "1"},
        {"product": "mug", "quantity": "١"},  # an Arabic-Indic one: still refused, never a 500
        {"product": "mug", "quantity": "1e3"},
        {"product": "mug", "quantity": "0x10"},
        {"product": ["mug"], "quantity": {"a": 1}},
    ],
)
def test_odd_input_is_a_400_never_a_500(client, data):
    product_create(slug="mug")

    form = client.post(ADD, {k: str(v) for k, v in data.items()})
    as_json = _json_post(client, ADD, data)

    assert form.status_code == 400
    assert as_json.status_code == 400
    assert CartItem.objects.count() == 0


@pytest.mark.parametrize("data", [{"item": "²", "quantity": "1"}, {"item": "abc"}, {}])
def test_odd_update_and_remove_input_is_a_400(client, data):
    product_create(slug="mug")
    client.post(ADD, {"product": "mug", "quantity": "1"})

    assert client.post(UPDATE, data).status_code == 400
    assert client.post(REMOVE, data).status_code == 400
    assert _cart_lines(client) == {"mug": 1}


def test_remove_by_item_id_removes_only_from_my_cart(client):
    product_create(slug="mug")
    client.post(ADD, {"product": "mug", "quantity": "1"})
    theirs = cart_with_items(items=[(product_create(), 1)]).items.get()

    client.post(REMOVE, {"item": str(theirs.pk)})

    assert CartItem.objects.filter(pk=theirs.pk).exists()
    assert _cart_lines(client) == {"mug": 1}
