"""Pages and answers holding a shopper's name and e-mail are never stored by a browser or a
proxy: ``Cache-Control: no-store``."""

from __future__ import annotations

import pytest

from orders.access import order_signed_url
from tests.factories import order_create, product_create

pytestmark = pytest.mark.django_db


def _no_store(response) -> bool:
    return "no-store" in [part.strip() for part in response.get("Cache-Control", "").split(",")]


def test_order_page_and_its_status_json_say_no_store(client):
    order = order_create(email="private.person@example.com", name="Private Person")
    url = order_signed_url(order=order)

    page = client.get(url)
    status = client.get(f"/orders/{order.public_id}/status?{url.split('?', 1)[1]}")

    assert page.status_code == 200
    assert "private.person@example.com" in page.content.decode()
    assert _no_store(page)
    assert status.status_code == 200
    assert _no_store(status)


def test_checkout_refused_with_the_shoppers_details_says_no_store(client):
    product = product_create()
    client.post("/cart/add/", {"product": product.slug, "quantity": "1"})

    response = client.post("/checkout/", {"email": "not-an-address", "name": "Private Person"})

    assert response.status_code == 400
    assert "Private Person" in response.content.decode()
    assert _no_store(response)


def test_a_cancel_answer_says_no_store(client):
    order = order_create(status="cancelled")
    url = order_signed_url(order=order)

    response = client.post(
        f"/orders/{order.public_id}/cancel?{url.split('?', 1)[1]}",
        HTTP_ACCEPT="application/json",
    )

    assert response.status_code == 409
    assert _no_store(response)
