"""The merchant ships from the admin: the order page's "Mark shipped" form, "Mark delivered",
the bulk action, and the shipping methods."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Order, OrderEvent, ShippingMethod
from orders.services import order_create_from_cart, order_mark_paid
from tests.admin.conftest import ORDERS_URL, messages_of
from tests.factories import cart_with_items, order_create, product_create

pytestmark = pytest.mark.django_db

ADDRESS = {
    "shipping_name": "Ada <b>Lovelace</b>",
    "shipping_line1": "12 Analytical Row",
    "shipping_city": "London",
    "shipping_postal_code": "NW1 6XE",
    "shipping_country": "GB",
}


def shipping_order(*, paid: bool = True) -> Order:
    method = ShippingMethod.objects.get_or_create(name="Standard", price=Decimal("4.90"))[0]
    mug = product_create(name="Mug", price="19.90", requires_shipping=True)
    order = order_create_from_cart(
        cart=cart_with_items(items=[(mug, 1)]),
        email="ada@example.com",
        name="Ada",
        shipping=ADDRESS,
        shipping_method=method.pk,
    )
    if paid:
        order, _ = order_mark_paid(order=order, payment_reference="pay-1", source="webhook")
    return order


def test_the_order_page_shows_the_address_method_and_a_mark_shipped_link(admin_client):
    order = shipping_order()

    page = admin_client.get(f"{ORDERS_URL}{order.pk}/change/").content.decode()

    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in page  # escaped
    assert "12 Analytical Row" in page
    assert "Standard, $4.90" in page
    assert f'href="{ORDERS_URL}{order.pk}/ship/"' in page
    assert "Mark shipped" in page


def test_an_unpaid_orders_page_offers_no_mark_shipped(admin_client):
    order = shipping_order(paid=False)

    page = admin_client.get(f"{ORDERS_URL}{order.pk}/change/").content.decode()

    assert "is not paid: it can&#x27;t be shipped yet" in page
    assert f"{ORDERS_URL}{order.pk}/ship/" not in page


def test_mark_shipped_form_ships_the_order(admin_client, run_tasks, mailoutbox):
    order = shipping_order()
    url = f"{ORDERS_URL}{order.pk}/ship/"
    assert admin_client.get(url).status_code == 200

    response = admin_client.post(
        url,
        {
            "carrier": "DHL",
            "tracking_number": "JD0140",
            "tracking_url": "https://track.example.com/JD0140",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"{ORDERS_URL}{order.pk}/change/"
    assert any("marked shipped" in m for m in messages_of(response))
    order.refresh_from_db()
    assert order.fulfilment_status == Order.Fulfilment.SHIPPED
    (line,) = order.history.filter(kind=OrderEvent.Kind.SHIPPED)
    assert line.source == OrderEvent.Source.ADMIN
    assert line.actor == "admin"
    run_tasks()
    assert [m for m in mailoutbox if "on its way" in m.subject]
    page = admin_client.get(f"{ORDERS_URL}{order.pk}/change/").content.decode()
    assert "Mark delivered" in page
    assert 'href="https://track.example.com/JD0140"' in page


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"carrier": "DHL", "tracking_url": "javascript:alert(1)"}, "starts with https://"),
        ({"carrier": "", "tracking_number": "1"}, "Please enter the carrier"),
    ],
)
def test_mark_shipped_with_bad_details_is_a_form_error(admin_client, fields, words):
    order = shipping_order()

    response = admin_client.post(f"{ORDERS_URL}{order.pk}/ship/", fields)

    assert response.status_code == 400
    assert words in response.content.decode()
    order.refresh_from_db()
    assert order.fulfilment_status == Order.Fulfilment.UNFULFILLED


def test_mark_shipped_on_an_unpaid_order_is_refused(admin_client):
    order = shipping_order(paid=False)

    response = admin_client.post(f"{ORDERS_URL}{order.pk}/ship/", {"carrier": "DHL"})

    assert response.status_code == 400
    assert "is not paid" in response.content.decode()
    order.refresh_from_db()
    assert order.fulfilment_status == Order.Fulfilment.UNFULFILLED


def test_mark_delivered(admin_client):
    order = shipping_order()
    admin_client.post(f"{ORDERS_URL}{order.pk}/ship/", {"carrier": "DHL"})
    url = f"{ORDERS_URL}{order.pk}/deliver/"
    assert admin_client.get(url).status_code == 200

    response = admin_client.post(url)

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.fulfilment_status == Order.Fulfilment.DELIVERED


def test_a_user_without_change_permission_cannot_ship(client, django_user_model):
    from django.contrib.auth.models import Permission

    order = shipping_order()
    viewer = django_user_model.objects.create_user("viewer", "v@example.com", "pw-viewer-1")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)

    response = client.post(f"{ORDERS_URL}{order.pk}/ship/", {"carrier": "DHL"})

    assert response.status_code == 403
    order.refresh_from_db()
    assert order.fulfilment_status == Order.Fulfilment.UNFULFILLED


def test_bulk_action_ships_the_paid_orders_and_skips_the_others(
    admin_client, run_tasks, mailoutbox
):
    first, second = shipping_order(), shipping_order()
    unpaid = shipping_order(paid=False)
    digital = order_create(status=Order.Status.PAID)
    selected = [first.pk, second.pk, unpaid.pk, digital.pk]

    form = admin_client.post(ORDERS_URL, {"action": "ship_orders", "_selected_action": selected})

    assert form.status_code == 200
    page = form.content.decode()
    assert f'name="tracking_number_{first.pk}"' in page
    assert f'name="tracking_number_{unpaid.pk}"' not in page
    assert f"{unpaid.number}: Order {unpaid.number} is not paid" in page
    assert "has nothing to ship" in page

    response = admin_client.post(
        ORDERS_URL,
        {
            "action": "ship_orders",
            "_selected_action": selected,
            "apply": "1",
            "carrier": "Royal Mail",
            f"tracking_number_{first.pk}": "RM1",
            f"tracking_url_{first.pk}": "https://track.example.com/RM1",
            f"tracking_number_{second.pk}": "RM2",
        },
    )

    assert response.status_code == 302
    for order, number in ((first, "RM1"), (second, "RM2")):
        order.refresh_from_db()
        assert order.fulfilment_status == Order.Fulfilment.SHIPPED
        assert (order.carrier, order.tracking_number) == ("Royal Mail", number)
    unpaid.refresh_from_db()
    assert unpaid.fulfilment_status == Order.Fulfilment.UNFULFILLED
    run_tasks()
    assert len([m for m in mailoutbox if "on its way" in m.subject]) == 2


def test_bulk_action_with_a_bad_tracking_url_ships_nothing(admin_client):
    first, second = shipping_order(), shipping_order()

    response = admin_client.post(
        ORDERS_URL,
        {
            "action": "ship_orders",
            "_selected_action": [first.pk, second.pk],
            "apply": "1",
            "carrier": "DHL",
            f"tracking_url_{second.pk}": "javascript:alert(1)",
        },
    )

    assert response.status_code == 200
    assert "starts with https://" in response.content.decode()
    assert not Order.objects.filter(fulfilment_status=Order.Fulfilment.SHIPPED).exists()


def test_the_order_list_filters_by_fulfilment(admin_client):
    waiting = shipping_order()
    shipped = shipping_order()
    admin_client.post(f"{ORDERS_URL}{shipped.pk}/ship/", {"carrier": "DHL"}, follow=True)

    page = admin_client.get(ORDERS_URL, {"fulfilment_status__exact": "unfulfilled"})

    text = page.content.decode()
    assert waiting.number in text
    assert shipped.number not in text


def test_shipping_methods_are_managed_in_the_admin(admin_client):
    response = admin_client.post(
        "/admin/orders/shippingmethod/add/",
        {
            "name": "Express",
            "price": "14.90",
            "currency": "USD",
            "free_over": "100.00",
            "countries": ["US", "CA"],
            "is_active": "on",
            "position": "2",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    method = ShippingMethod.objects.get(name="Express")
    assert method.price == Decimal("14.90")
    assert method.free_over == Decimal("100.00")
    assert method.delivers_to("CA")
    assert not method.delivers_to("GB")
    listing = admin_client.get("/admin/orders/shippingmethod/").content.decode()
    assert "$14.90" in listing
    assert "CA" in listing


def test_correct_tracking_from_the_admin(admin_client):
    order = shipping_order()
    admin_client.post(
        f"{ORDERS_URL}{order.pk}/ship/", {"carrier": "DHL", "tracking_number": "JD0104"}
    )
    page = admin_client.get(f"{ORDERS_URL}{order.pk}/change/").content.decode()
    assert f'href="{ORDERS_URL}{order.pk}/tracking/"' in page
    form = admin_client.get(f"{ORDERS_URL}{order.pk}/tracking/").content.decode()
    assert 'value="JD0104"' in form

    response = admin_client.post(
        f"{ORDERS_URL}{order.pk}/tracking/", {"carrier": "DHL", "tracking_number": "JD0140"}
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.tracking_number == "JD0140"
