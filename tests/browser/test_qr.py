"""Journey 2: the shopper scans the QR code and approves in the banq app (a second browser); the
order page, which the widget never told, flips to paid without a reload."""

from __future__ import annotations

import pytest

from orders.models import Order, OrderEvent
from tests.support.browser import PHONE, QUICK, expect, snap

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_approving_in_the_banq_app_flips_the_open_page_without_a_reload(
    shop, shopper, new_page, check
):
    page = shopper.page
    public_id = shopper.order_with("Organic T-shirt")
    shopper.open_modal()
    approve_url = shopper.approve_url()
    page.evaluate("() => { window.__sameDocument = true; }")

    phone = new_page(PHONE, is_mobile=True, has_touch=True)  # the banq app, on the phone
    phone.goto(approve_url)
    expect(phone.locator("#payment-state")).to_have_text("Waiting for payment")
    expect(phone.get_by_text("$29.40")).to_be_visible()  # $24.50 and $4.90 shipping
    check(phone, "banq app approval page")
    phone.get_by_role("button", name="Approve payment").click()
    expect(phone.locator("#payment-state")).to_have_text("Payment complete")
    check(phone, "banq app after approval")

    shopper.expect_confirmation(timeout=QUICK)
    assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    check(page, "confirmation after the banq app")

    order = Order.objects.get(public_id=public_id)
    assert order.status == Order.Status.PAID
    assert order.history.filter(kind=OrderEvent.Kind.PAID).count() == 1
    (payment,) = shop.emulator.payments()
    assert payment["status"] == "completed"
    assert payment["completedVia"] == "app"
    assert order.payment_reference == payment["id"]
    assert not order.history.filter(kind=OrderEvent.Kind.CLAIM).exists()  # the widget heard nothing

    dashboard = new_page()
    dashboard.goto(shop.emulator.url + "/_emulator/")
    expect(dashboard.get_by_role("heading", name="Payments")).to_be_visible()
    expect(dashboard.locator("table").first).to_contain_text(order.number)
    check(dashboard, "emulator dashboard")
    snap(dashboard, "emulator-dashboard")
