"""Journey: a shopper buys the monthly membership, pays its first payment in the banq modal, and
watches the next two installments arrive from banq on the open page, without a reload; opened
again on a phone, the page still receives the next one."""

from __future__ import annotations

import re

import pytest

from orders.models import Installment, Order, OrderEvent
from tests.browser.test_phone import _fits
from tests.support.browser import PHONE, QUICK, expect, snap
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PLAN = "banq club membership"
RULE = "One order holds either one-time items or one recurring plan."


def test_a_shopper_buys_a_monthly_plan_and_sees_its_installments_arrive_live(
    shop, shopper, new_page, check
):
    page = shopper.page
    shopper.catalog()
    card = page.locator(".product-card").filter(has_text=PLAN)
    expect(card.locator(".price")).to_have_text("$9.90 every month")
    shopper.add_to_cart(PLAN)
    row = shopper.cart_row(PLAN)
    expect(row).to_contain_text(re.compile(r"\$9\.90 every month, starting today, 12 payments"))
    expect(page.locator("[data-plan-rule]")).to_contain_text(RULE.removesuffix("."))
    expect(row.get_by_role("spinbutton")).to_have_count(0)  # a plan is bought one at a time
    check(page, "cart with a plan")

    # A one-time item can't join the plan's order: the page says why, the cart is unchanged.
    new_page.errors_of(page).allow(r"status of 400")
    page.get_by_role("link", name="Shop").click()
    page.locator(".product-card").filter(has_text="banq mug").get_by_role(
        "button", name="Add to cart"
    ).click()
    expect(page.get_by_role("alert")).to_contain_text(RULE)
    check(page, "a one-time item refused beside a plan")
    page.get_by_role("link", name=re.compile(r"^Cart")).click()
    expect(page.locator("table.lines tbody tr")).to_have_count(1)

    shopper.go_to_checkout()
    expect(page.locator("[data-plan-words]")).to_contain_text(
        "$9.90 every month, starting today, 12 payments, last on"
    )
    check(page, "checkout of a plan")
    public_id = shopper.place_order()
    plan = page.locator("#order-plan")
    expect(plan).to_contain_text("Your plan")
    expect(plan).to_contain_text("No payment yet")
    check(page, "order page of a plan")

    shopper.open_modal()
    expect(shopper.modal.get_by_role("button", name="Pay $9.90")).to_be_visible()
    shopper.pay_in_modal()
    shopper.expect_confirmation()
    payments = plan.locator("[data-installments] li")
    expect(payments).to_have_count(1, timeout=QUICK)
    expect(payments.nth(0)).to_contain_text("Payment 1 of 12: $9.90 paid on")
    expect(plan.locator('[data-plan-field="next_text"]')).to_contain_text(
        "Next: payment 2 of 12, $9.90, expected on"
    )
    page.evaluate("() => { window.__sameDocument = true; }")

    order = Order.objects.get(public_id=public_id)
    payment_id = order.payment_reference
    assert payment_id
    shop.emulator.next_installment(payment_id)  # banq charges next month's installment...
    expect(payments).to_have_count(2, timeout=QUICK)
    shop.emulator.next_installment(payment_id)  # ... and the one after
    expect(payments).to_have_count(3, timeout=QUICK)
    expect(payments.nth(1)).to_contain_text("Payment 2 of 12: $9.90 paid on")
    expect(payments.nth(2)).to_contain_text("Payment 3 of 12: $9.90 paid on")
    expect(plan.locator('[data-plan-field="next_text"]')).to_contain_text("payment 4 of 12")
    expect(plan.locator("[data-plan-announce]")).to_contain_text("Payment 3 of 12")
    assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    expect(page.locator("#order-status")).to_have_text("Paid")
    check(page, "order page after two installments")
    snap(page, "recurring-plan", full_page=True)

    assert Installment.objects.filter(subscription__order=order, status="paid").count() == 3
    wait_for(
        lambda: (
            order.history.filter(
                kind=OrderEvent.Kind.EMAIL, data__email__startswith="installment_paid"
            ).count()
            == 2
        ),
        timeout=15,
        what="a receipt for each installment",
    )

    # Opened again later (here on a phone), a paid plan's page still listens for installments.
    page.set_viewport_size(PHONE)
    page.reload()
    expect(payments).to_have_count(3)
    shop.emulator.next_installment(payment_id)
    expect(payments).to_have_count(4, timeout=QUICK)
    expect(payments.nth(3)).to_contain_text("Payment 4 of 12: $9.90 paid on")
    _fits(page, "the plan on a phone")
    check(page, "order page of a plan on a phone")
    snap(page, "recurring-plan-phone", full_page=True)
