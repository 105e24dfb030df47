"""Journey 8: a stranger opening the order URL, without the shopper's session or the signed
link, sees nothing of the order; the signed link shows it."""

from __future__ import annotations

import uuid

import pytest

from orders.access import order_signed_url
from orders.models import Order
from tests.support.browser import expect, small_targets

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_stranger_sees_nothing_of_the_order(shop, shopper, new_page, check):
    public_id = shopper.order_with("Dotted notebook")
    order = Order.objects.get(public_id=public_id)
    private = [order.number, order.email, order.name, "$7.35", "Dotted notebook", public_id]

    stranger = new_page()
    new_page.errors_of(stranger).allow(r"status of 404 \(Not Found\) \(http://[^)]*/orders/")
    base = f"{shop.url}/orders/{public_id}"
    for url in (
        f"{base}/",
        f"{base}/?key=1xWEi3:forgedforgedforgedforgedforg",
        f"{base}/status",
        f"{shop.url}/orders/{uuid.uuid4()}/",  # what an unknown order looks like: the same
    ):
        response = stranger.goto(url)
        assert response is not None
        assert response.status == 404, url
        body = response.text()
        leaked = [value for value in private if value in body]
        assert not leaked, f"{url} shows {leaked}"
    stranger.goto(f"{base}/")
    expect(stranger.get_by_role("heading", name="Not found")).to_be_visible()
    check(stranger, "404 page")
    # An error page is a shopper's page too: a skip link, and controls of at least 24 px.
    expect(stranger.get_by_role("link", name="Skip to content")).to_have_count(1)
    assert not small_targets(stranger), small_targets(stranger)

    # The signed link (the e-mail's, the merchant's "View on site") opens it.
    stranger.goto(shop.url + order_signed_url(order=order))
    expect(stranger.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
