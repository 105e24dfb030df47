"""Journey 7: the modal closed without paying leaves the order payable; banq declines in the modal,
the modal closes as soon as the store knows, and the shopper reads why in plain words, with focus
on that message and the Pay button there to try again; another try pays."""

from __future__ import annotations

import pytest

from banq.models import BanqPayment
from orders.models import Order, OrderEvent
from tests.support.browser import expect

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STORE_WORDS = "Your banq account doesn't have enough balance for this payment."


def test_closed_then_declined_then_paid(shop, shopper, check):
    page = shopper.page
    public_id = shopper.order_with("Organic T-shirt")

    # Closed without paying: nothing changes for the shopper, the order can still be paid.
    shopper.open_modal()
    shopper.modal.get_by_role("button", name="Close").click()
    expect(shopper.dialog).to_have_count(0)
    expect(shopper.pay_button).to_be_focused()
    expect(page.get_by_text("Awaiting payment.")).to_be_visible()
    status = page.request.get(f"{shop.url}/orders/{public_id}/status").json()
    assert "payable" in status["states"], status
    assert Order.objects.get(public_id=public_id).status == Order.Status.AWAITING_PAYMENT
    check(page, "order page after closing the modal")

    # Declined by banq: once the store knows (banq's webhook, pushed to the page), the modal
    # closes and the store's page says why in plain words, with focus on it; Pay is there again.
    shopper.open_modal()
    shopper.modal.get_by_text("Decline instead (emulator)").click()
    shopper.modal.get_by_label("banq fail reason").select_option("InsufficientBalance")
    shopper.modal.get_by_role("button", name="Decline").click()
    expect(shopper.dialog).to_have_count(0)
    failed = page.locator('#order-payment [data-when="failed"]')
    expect(failed).to_be_visible()
    expect(failed).to_contain_text(STORE_WORDS)
    expect(failed).to_contain_text("Nothing was charged")
    assert "InsufficientBalance" not in failed.inner_text()
    expect(failed).to_be_focused()
    expect(shopper.pay_button).to_be_visible()
    expect(page.locator("[data-payment-message]")).to_have_text(
        "The payment did not go through. You can try again."
    )
    order = Order.objects.get(public_id=public_id)
    assert order.status == Order.Status.FAILED
    check(page, "order page after a decline")

    # Another try pays.
    shopper.open_modal()
    shopper.pay_in_modal()
    shopper.expect_confirmation()
    expect(failed).to_be_hidden()

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    attempts = BanqPayment.objects.filter(order=order).order_by("pk")
    assert [a.banq_status for a in attempts] == ["failed", "completed"]
    assert order.payment_reference == attempts[1].banq_payment_id
    assert order.history.filter(kind=OrderEvent.Kind.PAYMENT_FAILED).count() == 1
    assert order.history.filter(kind=OrderEvent.Kind.PAID).count() == 1
