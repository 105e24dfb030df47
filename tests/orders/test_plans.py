"""Recurring products in the shop: one order holds one plan or one-time items (the page explains
the rule), the cart and checkout say the plan in words, checkout creates the subscription, the
order page shows the plan, and the demo catalog sells a membership."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from orders.access import order_signed_url
from orders.exceptions import MixedCart
from orders.models import CartItem, Order, OrderEvent, Product, Subscription
from orders.recurring import Plan
from orders.services import order_create_from_cart
from tests.factories import cart_with_items, membership_create, product_create

pytestmark = pytest.mark.django_db

CART = reverse("orders:cart")
ADD = reverse("orders:cart-add")
UPDATE = reverse("orders:cart-update")
CHECKOUT = reverse("orders:checkout")
RULE = "One order holds either one-time items or one recurring plan."


def _last_of_12(today: date) -> str:
    last = Plan(frequency="monthly", start=today, periods=12).last_due
    assert last is not None
    return f"{last.day} {last:%b %Y}"


def _lines(client) -> dict[str, int]:
    return dict(
        CartItem.objects.filter(cart__session_key=client.session.session_key).values_list(
            "product__slug", "quantity"
        )
    )


def test_a_plan_and_one_time_items_are_never_in_one_cart_and_the_page_says_why(client):
    mug = product_create(name="Mug", slug="mug")
    club = membership_create(name="banq club membership", slug="club")
    client.post(ADD, {"product": "mug", "quantity": "1"})

    refused = client.post(ADD, {"product": "club", "quantity": "1"})

    assert refused.status_code == 400
    page = refused.content.decode()
    assert RULE in page
    assert "Check out the items in your cart first" in page
    assert _lines(client) == {"mug": 1}
    as_json = client.post(
        ADD,
        data=json.dumps({"product": "club"}),
        content_type="application/json",
        HTTP_ACCEPT="application/json",
    )
    assert as_json.status_code == 400
    assert as_json.json()["error"]["code"] == "mixed_cart"

    client.post(reverse("orders:cart-remove"), {"product": mug.slug})
    assert client.post(ADD, {"product": club.slug, "quantity": "1"}).status_code == 302
    refused = client.post(ADD, {"product": "mug", "quantity": "1"})
    assert refused.status_code == 400
    assert "Your cart holds the plan banq club membership" in refused.content.decode()
    assert _lines(client) == {"club": 1}


def test_a_plan_is_bought_one_at_a_time(client):
    club = membership_create(slug="club")
    assert client.post(ADD, {"product": "club", "quantity": "2"}).status_code == 400
    client.post(ADD, {"product": "club", "quantity": "1"})

    again = client.post(ADD, {"product": "club", "quantity": "1"})
    more = client.post(UPDATE, {"product": club.slug, "quantity": "3"})

    assert again.status_code == more.status_code == 400
    assert "a recurring plan: one per order" in more.content.decode()
    assert _lines(client) == {"club": 1}


def test_the_product_cart_and_checkout_say_the_plan_plainly(client):
    membership_create(name="banq club membership", slug="club")
    today = timezone.localdate()
    words = f"$9.90 every month, starting today, 12 payments, last on {_last_of_12(today)}"

    product_page = client.get(reverse("orders:product-detail", kwargs={"slug": "club"}))
    catalog = client.get(reverse("orders:catalog"))
    client.post(ADD, {"product": "club", "quantity": "1"})
    cart = client.get(CART).content.decode()
    checkout = client.get(CHECKOUT).content.decode()

    assert words in product_page.content.decode()
    assert "$9.90 every month" in catalog.content.decode()
    assert words in cart
    assert "Today you pay" in cart
    assert RULE.removesuffix(".") in cart
    assert words in checkout
    assert "Today you pay" in checkout
    summary = client.get(CART, HTTP_ACCEPT="application/json").json()["data"]["cart"]
    assert summary["lines"][0]["plan"] == words


def test_checkout_of_a_plan_creates_its_subscription(client):
    membership_create(name="banq club membership", slug="club", price="9.90")
    client.post(ADD, {"product": "club", "quantity": "1"})

    response = client.post(CHECKOUT, {"email": "ann@example.com", "name": "Ann"})

    assert response.status_code == 302
    order = Order.objects.get()
    assert order.recurring is True
    assert order.total == Decimal("9.90")
    subscription = order.subscription
    today = timezone.localdate()
    assert (subscription.frequency, subscription.periods) == ("monthly", 12)
    assert subscription.start_date == today
    assert subscription.amount == Decimal("9.90")
    assert subscription.state == Subscription.State.PENDING
    assert (subscription.next_number, subscription.next_due_date) == (0, today)
    placed = order.history.get(kind=OrderEvent.Kind.CREATED)
    assert "the first payment of a plan: $9.90 every month" in placed.message


def test_checkout_refuses_a_cart_that_became_mixed():
    mug = product_create()
    club = product_create()
    cart = cart_with_items(items=[(mug, 1), (club, 1)])
    Product.objects.filter(pk=club.pk).update(frequency="monthly")  # the merchant's edit

    with pytest.raises(MixedCart, match="one recurring plan"):
        order_create_from_cart(cart=cart, email="ann@example.com", name="Ann")

    assert Order.objects.count() == 0


def test_a_plan_whose_last_date_has_passed_can_no_longer_be_bought(client):
    membership_create(slug="old", periods=None, plan_end_date=date(2020, 1, 1))
    client.post(ADD, {"product": "old", "quantity": "1"})

    response = client.post(CHECKOUT, {"email": "ann@example.com", "name": "Ann"})

    assert response.status_code == 400
    assert "its plan has ended" in response.content.decode()
    assert Order.objects.count() == 0


def test_the_order_page_shows_the_plan_before_the_first_payment(client):
    membership_create(name="banq club membership", slug="club")
    client.post(ADD, {"product": "club", "quantity": "1"})
    client.post(CHECKOUT, {"email": "ann@example.com", "name": "Ann"})
    order = Order.objects.get()

    page = client.get(order_signed_url(order=order)).content.decode()

    assert 'id="order-plan"' in page
    assert "Your plan" in page
    assert "$9.90 every month, starting today, 12 payments" in page
    assert "No payment yet" in page
    assert "Pay the first payment of your plan" in page
    assert 'data-plan-live="false"' in page


def test_a_one_time_product_has_no_plan_fields():
    product = Product(name="Mug", slug="mug", price=Decimal("1.00"), periods=3)
    with pytest.raises(ValidationError, match="A one-time product"):
        product.full_clean()
    product = Product(name="Mug", slug="mug", price=Decimal("1.00"), frequency="")
    product.full_clean()
    assert product.frequency == "once"


def test_a_plan_started_the_day_before_its_link_starts_today():
    from orders.services import subscription_start_today
    from tests.factories import recurring_order_create

    order = recurring_order_create()
    yesterday = timezone.localdate() - timedelta(days=1)
    Subscription.objects.filter(order=order).update(start_date=yesterday, next_due_date=yesterday)

    subscription = subscription_start_today(order=order)

    assert subscription is not None
    assert subscription.start_date == timezone.localdate()
    assert subscription.next_due_date == timezone.localdate()


def test_the_demo_catalog_sells_a_monthly_membership():
    call_command("load_demo_catalog", verbosity=0)

    club = Product.objects.get(slug="banq-club-membership")

    assert (club.name, club.price, club.frequency, club.periods) == (
        "banq club membership",
        Decimal("9.90"),
        "monthly",
        12,
    )
    assert Product.objects.filter(frequency="once").count() == 6
    call_command("load_demo_catalog", "--reset", verbosity=0)  # nothing edited: no --yes needed
