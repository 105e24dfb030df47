"""Journey 1: a shopper pays in the banq modal; the merchant sees the order paid in the admin."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from banq.models import BanqPayment
from orders.models import Order, OrderEvent
from orders.moments import format_moment
from tests.support.browser import DESKTOP, box_of, expect, snap
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# As the page writes every moment: "6 Dec 2026, 06:32 UTC", in the store's time zone, named.
PAID_AT_RE = re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} [A-Za-z0-9+-]+$")


def test_a_shopper_pays_in_the_modal_and_the_merchant_sees_it_paid(shop, shopper, new_page, check):
    page = shopper.page
    shopper.catalog()
    expect(page.locator(".product-card")).to_have_count(7)
    snap(page, "catalog")

    # One product from its own page, two from the catalog.
    page.locator(".product-card").filter(has_text="banq mug").get_by_role("link").click()
    expect(page.get_by_role("heading", name="banq mug", level=1)).to_be_visible()
    header, card = box_of(page.locator(".site-header")), box_of(page.locator(".product-detail"))
    assert card["y"] - (header["y"] + header["height"]) >= 12, "the card touches the header"
    check(page, "product page")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_role("heading", name="Your cart", level=1)).to_be_visible()
    for name in ("Dotted notebook", "Sticker"):
        page.get_by_role("link", name="Shop").click()
        shopper.add_to_cart(name)
    page.get_by_role("link", name=re.compile(r"^Cart")).click()
    expect(page.locator("[data-cart-count]")).to_have_text("3")
    check(page, "cart")

    shopper.set_quantity("banq mug", 2)
    expect(shopper.cart_row("banq mug").get_by_label("Quantity of banq mug")).to_have_value("2")
    expect(shopper.cart_row("banq mug").locator('td[data-label="Total"]')).to_have_text("$39.80")
    shopper.remove("Sticker")
    expect(page.locator("[data-cart-total]")).to_have_text("$47.15")  # 2 x 19.90 + 7.35
    check(page, "cart after changes")

    shopper.go_to_checkout()
    check(page, "checkout")
    new_page.errors_of(page).allow(r"status of 400 .*/checkout/")  # the form's answer
    page.get_by_label("E-mail").fill("not an e-mail")
    page.get_by_label("Name", exact=True).fill("Sam Shopper")
    page.get_by_role("button", name="Place order").click()
    # The e-mail's error beside it (the empty shipping address has its own).
    expect(
        page.locator(".field.has-error .field-error").filter(has_text="valid e-mail address")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Checkout", level=1)).to_be_visible()
    assert Order.objects.count() == 0
    check(page, "checkout with an invalid e-mail")
    public_id = shopper.place_order("sam@example.com", "Sam Shopper")

    order = Order.objects.get(public_id=public_id)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    # The mug ships: the demo's standard shipping ($4.90, free from $50) is part of the total.
    expect(page.locator("#order-payment")).to_contain_text("$52.05")
    check(page, "order page")

    shopper.open_modal()
    expect(shopper.modal.locator(".amount")).to_have_text("$52.05")
    expect(shopper.modal.get_by_role("button", name="Pay $52.05")).to_be_in_viewport(ratio=1)
    check(page, "order page with the banq modal")
    snap(page, "order-modal")

    shopper.pay_in_modal()
    shopper.expect_confirmation()
    expect(shopper.confirmation).to_contain_text(order.number)
    paid_at_live = shopper.confirmation.locator('[data-field="paid_at"]').inner_text()
    assert PAID_AT_RE.match(paid_at_live), paid_at_live
    order.refresh_from_db()
    assert paid_at_live == format_moment(order.paid_at)  # the live update, as the page writes it
    check(page, "confirmation")
    snap(page, "confirmation")

    order.refresh_from_db()
    (attempt,) = BanqPayment.objects.filter(order=order)
    assert order.status == Order.Status.PAID
    assert (order.subtotal, order.shipping_price) == (Decimal("47.15"), Decimal("4.90"))
    assert order.total == Decimal("52.05")
    assert order.payment_reference == attempt.banq_payment_id
    assert order.history.filter(kind=OrderEvent.Kind.PAID).count() == 1
    expect(shopper.confirmation.locator('[data-field="payment_reference"]')).to_have_text(
        attempt.banq_payment_id
    )
    (payment,) = shop.emulator.payments()
    assert (payment["status"], payment["externalOrderCode"]) == ("completed", order.number)

    # The worker sends one confirmation e-mail; still one payment recorded by then.
    wait_for(
        lambda: order.history.filter(kind=OrderEvent.Kind.EMAIL).exists(),
        timeout=10,
        what="the confirmation e-mail",
    )
    assert order.history.filter(kind=OrderEvent.Kind.EMAIL).count() == 1
    assert order.history.filter(kind=OrderEvent.Kind.PAID).count() == 1

    # After a reload, the same words: "Paid at" is written one way.
    page.reload()
    expect(shopper.confirmation).to_be_visible()
    expect(shopper.confirmation.locator('[data-field="paid_at"]')).to_have_text(paid_at_live)
    expect(shopper.pay_button).to_have_count(0)

    _merchant_sees_it_paid(shop, new_page, check, order)


def _merchant_sees_it_paid(shop, new_page, check, order: Order) -> None:
    get_user_model().objects.create_superuser("merchant", "merchant@example.com", "merchant-pw-1")
    page = new_page(DESKTOP)
    page.goto(shop.url + "/admin/")
    check(page, "admin login")
    page.get_by_label("Username").fill("merchant")
    page.get_by_label("Password").fill("merchant-pw-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    check(page, "admin index")

    page.goto(shop.url + "/admin/orders/order/")
    row = page.locator("#result_list tbody tr").filter(has_text=order.number)
    expect(row.locator(".order-status")).to_have_text("Paid")
    expect(row).to_contain_text(order.payment_reference)
    # The whole list fits 1280 px: paid-at and banq's payment id are not cut off or scrolled.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= DESKTOP["width"], f"the order list is {width} px wide"
    results = page.locator("#changelist .results")
    assert results.evaluate("el => el.scrollWidth <= el.clientWidth"), "the list scrolls sideways"
    expect(row.locator(".field-paid_at_display")).to_be_in_viewport(ratio=1)
    expect(row.locator(".payment-id")).to_have_text(order.payment_reference)
    expect(row.locator(".payment-id")).to_be_in_viewport(ratio=1)
    check(page, "admin order list")
    snap(page, "admin-order-list")

    row.get_by_role("link", name=order.number).click()
    expect(page.get_by_role("heading", name=re.compile(order.number))).to_be_visible()
    history = page.locator("#history-group")
    expect(history).to_contain_text("Payment recorded")
    expect(history).to_contain_text("Order placed")
    check(page, "admin order")
    bottom = history.evaluate("el => el.getBoundingClientRect().bottom + window.scrollY")
    snap(
        page,
        "admin-order",
        full_page=True,
        clip={"x": 0, "y": 0, "width": 1280, "height": bottom + 16},
    )

    page.get_by_role("link", name="View on site").click()
    expect(page.locator('#order-payment [data-when="paid"]')).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.number}")
    check(page, "order page from the admin's View on site")
