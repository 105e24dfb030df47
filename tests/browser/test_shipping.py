"""Journey: buy a mug with an address and a shipping method, pay, the merchant marks it shipped in
the admin, and the shopper's open page flips to "Shipped" with the tracking link without a
reload; one "shipped" e-mail."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from orders.models import Order, OrderEvent
from orders.moments import format_moment
from orders.services.fulfilment import order_ship
from tests.support.browser import DESKTOP, expect, past_the_edge, small_targets, snap
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TRACKING_URL = "https://tracking.example.com/parcel?id=1Z999AA10123456784&lang=en"


def test_a_shipped_order_flips_the_open_page_to_shipped_with_the_tracking_link(
    shop, shopper, new_page, check
):
    page = shopper.page
    shopper.catalog()
    shopper.add_to_cart("banq mug")
    shopper.go_to_checkout()
    expect(page.get_by_role("group", name="Shipping address")).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile("^Standard shipping"))).to_be_checked()
    check(page, "checkout with an address")

    # Express goes to the United States only: an address in Germany is refused, nothing stored.
    new_page.errors_of(page).allow(r"status of 400 .*/checkout/")
    page.get_by_label("E-mail").fill("sam@example.com")
    page.get_by_label("Name", exact=True).fill("Sam Shopper")
    shopper.fill_address(Country="DE", City="Berlin", **{"Postal code": "10115"})
    page.get_by_role("radio", name=re.compile("^Express")).check()
    page.get_by_role("button", name="Place order").click()
    expect(page.locator(".shipping-method .field-error")).to_contain_text(
        "does not deliver to Germany"
    )
    assert Order.objects.count() == 0
    check(page, "checkout with a refused country")

    shopper.fill_address()  # back to the United States
    page.get_by_role("radio", name=re.compile("^Standard shipping")).check()
    snap(page, "checkout-address", full_page=True)
    public_id = shopper.place_order()
    order = Order.objects.get(public_id=public_id)
    assert (order.subtotal, order.shipping_price, order.total) == (
        Decimal("19.90"),
        Decimal("4.90"),
        Decimal("24.80"),
    )
    delivery = page.locator("#order-fulfilment")
    expect(delivery.locator("[data-shipping-address]")).to_contain_text("500 Market Street")
    expect(delivery.locator("[data-shipping-method]")).to_have_text("Standard shipping, $4.90")
    expect(delivery.locator("[data-fulfilment-status]")).to_have_text("Not shipped yet")
    check(page, "order page with an address")

    shopper.open_modal()
    expect(shopper.modal.get_by_role("button", name="Pay $24.80")).to_be_visible()
    shopper.pay_in_modal()
    shopper.expect_confirmation()
    expect(delivery.locator("[data-fulfilment-words]")).to_contain_text("preparing your parcel")
    page.evaluate("() => { window.__sameDocument = true; }")

    _merchant_marks_it_shipped(shop, new_page, check, order)

    # The shopper's page, open all along, flips without a reload.
    expect(delivery.locator("[data-fulfilment-status]")).to_have_text("Shipped", timeout=15_000)
    link = delivery.get_by_role("link", name=re.compile("Track your parcel"))
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", TRACKING_URL)
    expect(delivery.locator('[data-fulfilment-field="tracking_number"]')).to_have_text(
        "1Z999AA10123456784"
    )
    expect(delivery.locator('[data-fulfilment-field="carrier"]')).to_have_text("UPS")
    assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    check(page, "shipped order page")
    assert not small_targets(page), small_targets(page)
    assert not past_the_edge(page), past_the_edge(page)
    snap(page, "shipped-page", full_page=True)

    # One "shipped" e-mail, through the worker.
    wait_for(
        lambda: order.history.filter(kind=OrderEvent.Kind.EMAIL, data__email="shipped").exists(),
        timeout=15,
        what="the shipped e-mail",
    )
    assert order.history.filter(kind=OrderEvent.Kind.EMAIL, data__email="shipped").count() == 1
    assert order.history.filter(kind=OrderEvent.Kind.SHIPPED).count() == 1
    order.refresh_from_db()
    assert order.fulfilment_status == Order.Fulfilment.SHIPPED
    assert order.status == Order.Status.PAID
    # The live "Shipped" time reads as the page writes it: the store's zone, named.
    shipped_at = delivery.locator('[data-fulfilment-field="shipped_at"]')
    expect(shipped_at).to_have_text(format_moment(order.shipped_at))

    page.reload()
    expect(delivery.locator("[data-fulfilment-status]")).to_have_text("Shipped")
    expect(delivery.get_by_role("link", name=re.compile("Track your parcel"))).to_have_attribute(
        "href", TRACKING_URL
    )


def _merchant_marks_it_shipped(shop, new_page, check, order: Order) -> None:
    get_user_model().objects.create_superuser("merchant", "merchant@example.com", "merchant-pw-1")
    admin = new_page(DESKTOP)
    admin.goto(f"{shop.url}/admin/orders/order/{order.pk}/change/")
    admin.get_by_label("Username").fill("merchant")
    admin.get_by_label("Password").fill("merchant-pw-1")
    admin.get_by_role("button", name="Log in").click()
    expect(admin.get_by_role("heading", name=re.compile(order.number))).to_be_visible()
    shipping = admin.locator(".field-shipping_address_display")
    expect(shipping).to_contain_text("500 Market Street")
    check(admin, "admin order with an address")

    admin.get_by_role("link", name="Mark shipped").click()
    expect(admin.get_by_role("heading", name=f"Mark order {order.number} shipped")).to_be_visible()
    check(admin, "admin mark shipped form")
    snap(admin, "admin-mark-shipped")
    admin.get_by_label("Carrier").fill("UPS")
    admin.get_by_label("Tracking number").fill("1Z999AA10123456784")
    admin.get_by_label("Tracking URL").fill(TRACKING_URL)
    admin.get_by_role("button", name="Mark shipped").click()
    expect(admin.locator(".messagelist")).to_contain_text("marked shipped")
    expect(admin.locator(".field-fulfilment_display")).to_contain_text("Shipped: UPS")
    check(admin, "admin order shipped")
    admin.locator("fieldset").filter(has_text="Ships to").scroll_into_view_if_needed()
    snap(admin, "admin-order-shipped")


def test_with_the_websocket_blocked_polling_still_shows_shipped(shop, shopper):
    page = shopper.page
    refused: list[str] = []

    def refuse(socket) -> None:
        refused.append(socket.url)
        socket.close(code=1011, reason="blocked by the test")

    page.route_web_socket(re.compile(r"/ws/orders/"), refuse)
    public_id = shopper.order_with("Canvas tote bag")
    shopper.open_modal()
    shopper.pay_in_modal()
    shopper.expect_confirmation()
    delivery = page.locator("#order-fulfilment")
    expect(delivery.locator("[data-fulfilment-status]")).to_have_text("Not shipped yet")
    page.evaluate("() => { window.__sameDocument = true; }")

    order_ship(  # from another process than the page's store: only polling can tell the page
        order=Order.objects.get(public_id=public_id),
        carrier="DHL",
        tracking_number="JD0140",
        tracking_url=TRACKING_URL,
    )

    expect(delivery.locator("[data-fulfilment-status]")).to_have_text("Shipped", timeout=20_000)
    expect(delivery.get_by_role("link", name=re.compile("Track your parcel"))).to_have_attribute(
        "href", TRACKING_URL
    )
    assert refused, "the page never tried its WebSocket"
    assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
