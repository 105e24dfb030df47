"""What the merchant reads in the admin: the store's name as its header, amounts with their
currency, a paid order's customer fixed, a name column, the date-range filters, webhook events
that say what they mean, no empty link in the subscriptions list."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order, Subscription
from tests.admin.conftest import EVENTS_URL, ORDERS_URL, full_order
from tests.factories import order_create
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def test_the_admin_is_headed_with_the_stores_name(admin_client, settings):
    settings.STORE_NAME = "Corner Bike Shop"

    html = admin_client.get("/admin/").content.decode()

    assert "Django administration" not in html
    assert '<div id="site-name"><a href="/admin/">Corner Bike Shop</a></div>' in html
    assert "<title>Site administration | Corner Bike Shop admin</title>" in html


def test_order_list_has_a_customer_name_column(admin_client):
    order_create(name="Ada Lovelace", email="ada@example.com")

    response = admin_client.get(ORDERS_URL)

    html = response.content.decode()
    assert '<th scope="col" class="sortable column-name">' in html
    assert '<td class="field-name">Ada Lovelace</td>' in html


def test_order_page_shows_amounts_with_their_currency(admin_client):
    order = order_create(total="42.50", currency="EUR")

    html = admin_client.get(f"{ORDERS_URL}{order.pk}/change/").content.decode()

    assert html.count("42.50 EUR") >= 4  # subtotal, total, the line's unit price and total
    assert not re.search(r'<div class="readonly">\s*42\.50\s*</div>', html)


def test_an_unpaid_orders_customer_can_be_corrected(admin_client):
    order = order_create(name="Sam Typo", email="sam@exmaple.com")

    response = admin_client.get(f"{ORDERS_URL}{order.pk}/change/")

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert {"name", "email"} <= set(form.fields)


def test_a_paid_orders_name_and_email_cannot_be_edited(admin_client):
    order = order_create(
        status=Order.Status.PAID, paid_at=timezone.now(), name="Sam", email="sam@example.com"
    )
    url = f"{ORDERS_URL}{order.pk}/change/"

    form = admin_client.get(url).context["adminform"].form
    response = admin_client.post(url, {"name": "Mallory", "email": "mallory@example.com"})

    assert "name" not in form.fields
    assert "email" not in form.fields
    assert response.status_code in (200, 302)
    order.refresh_from_db()
    assert (order.name, order.email) == ("Sam", "sam@example.com")


def test_order_list_filters_by_a_date_range(admin_client):
    old = order_create()
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    recent = order_create()
    since = (timezone.localdate() - timedelta(days=7)).isoformat()

    response = admin_client.get(ORDERS_URL, {"created_at__range__gte": since})

    assert response.status_code == 200
    numbers = {o.number for o in response.context["cl"].result_list}
    assert numbers == {recent.number}
    assert "placed between" in response.content.decode()


def test_order_list_filters_by_a_paid_date_range(admin_client):
    paid = order_create(status=Order.Status.PAID, paid_at=timezone.now() - timedelta(days=3))
    order_create(status=Order.Status.PAID, paid_at=timezone.now() - timedelta(days=30))
    order_create()
    day = (timezone.localdate() - timedelta(days=3)).isoformat()

    response = admin_client.get(
        ORDERS_URL, {"paid_at__range__gte": day, "paid_at__range__lte": day}
    )

    assert {o.number for o in response.context["cl"].result_list} == {paid.number}


def test_a_processed_event_shows_no_error_row(admin_client):
    _, _, event = full_order()
    assert event.state == WebhookEvent.State.PROCESSED

    html = admin_client.get(f"{EVENTS_URL}{event.pk}/change/").content.decode()

    assert "Why the event is not processed" not in html
    assert "field-error" not in html
    assert "Body stored whole" in html
    assert "Body truncated" not in html


def test_a_rejected_event_shows_its_error(admin_client):
    event = WebhookEvent.objects.create(
        raw_body=b"{}",
        body_size=2,
        state=WebhookEvent.State.REJECTED,
        error="Amount mismatch: banq reports 1.00",
    )

    html = admin_client.get(f"{EVENTS_URL}{event.pk}/change/").content.decode()

    assert "field-error" in html
    assert "Amount mismatch: banq reports 1.00" in html


def test_a_truncated_body_says_so(admin_client):
    event = WebhookEvent.objects.create(
        raw_body=b"{" * 10,
        body_size=999_999,
        body_truncated=True,
        state=WebhookEvent.State.INVALID,
        error="Body too large",
    )

    html = admin_client.get(f"{EVENTS_URL}{event.pk}/change/").content.decode()

    assert "Body truncated" in html
    assert "Body stored whole" not in html


def test_subscription_list_has_no_link_inside_a_link(admin_client):
    order = order_create(status=Order.Status.PAID, paid_at=timezone.now())
    order.recurring = True
    order.save(update_fields=["recurring"])
    subscription = Subscription.objects.create(
        order=order,
        product_name="Coffee club",
        frequency="monthly",
        start_date=timezone.localdate(),
        amount="9.00",
        currency="USD",
    )

    html = admin_client.get("/admin/orders/subscription/").content.decode()

    row = re.search(r"<tr>.*?Coffee club.*?</tr>", html, re.S).group(0)
    assert not re.search(r"<a [^>]*>[^<]*<a ", row)
    assert f'href="/admin/orders/order/{order.pk}/change/"' in row
    assert f'href="/admin/orders/subscription/{subscription.pk}/change/' in row
    assert "$9.00" in row


def test_payment_attempts_show_their_amount_with_its_currency(admin_client):
    _, attempt, _ = full_order(total="19.99")

    listing = admin_client.get("/admin/banq/banqpayment/").content.decode()
    page = admin_client.get(f"/admin/banq/banqpayment/{attempt.pk}/change/").content.decode()
    order_page = admin_client.get(f"{ORDERS_URL}{attempt.order_id}/change/").content.decode()

    assert '<td class="field-funds_display">$19.99</td>' in listing
    assert re.search(r'<div class="readonly">\s*\$19\.99\s*</div>', page)
    assert not re.search(r'<div class="readonly">\s*19\.99\s*</div>', order_page)


def test_orders_can_be_searched_by_the_customers_name(admin_client):
    ada = order_create(name="Ada Lovelace")
    order_create(name="Grace Hopper")

    response = admin_client.get(ORDERS_URL, {"q": "Lovelace"})

    assert {o.number for o in response.context["cl"].result_list} == {ada.number}
