"""Journey: a shopper cancels a monthly plan from the order page (after a confirmation), the
merchant sees it cancelled in the admin (banq stopped charging it), an installment banq charges
anyway is flagged for a refund and the open page tells the shopper (and one e-mail does), and the
merchant records the refund."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from orders.models import Installment, Order, OrderEvent, OrderFlag, Subscription
from tests.browser.test_signin import sign_in
from tests.support.browser import DESKTOP, QUICK, expect, snap
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PLAN = "banq club membership"
PASSWORD = "merchant-pw-5310"


def _emails(order: Order, prefix: str) -> int:
    return order.history.filter(kind=OrderEvent.Kind.EMAIL, data__email__startswith=prefix).count()


def test_a_cancelled_plan_charged_anyway_is_flagged_for_refund_and_the_shopper_is_told(
    shop, shopper, new_page, check
):
    page = shopper.page
    shopper.catalog()
    shopper.add_to_cart(PLAN)
    shopper.go_to_checkout()
    public_id = shopper.place_order()
    shopper.open_modal()
    shopper.pay_in_modal()
    shopper.expect_confirmation()
    plan = page.locator("#order-plan")
    payments = plan.locator("[data-installments] li")
    expect(payments).to_have_count(1, timeout=QUICK)
    order = Order.objects.get(public_id=public_id)
    payment_id = order.payment_reference

    # Later, the shopper comes back to the order page and cancels, after a confirmation step.
    page.reload()
    confirm = page.get_by_role("button", name="Yes, cancel my plan")
    expect(confirm).to_be_hidden()
    page.get_by_text("Cancel this plan").click()
    expect(confirm).to_be_visible()
    check(page, "the plan's cancel confirmation")
    confirm.click()
    expect(page.locator(".messages")).to_contain_text(
        "Your plan is cancelled: no further payments will be taken."
    )
    expect(plan.locator("[data-plan-cancelled]")).to_be_visible()
    expect(plan.locator('[data-plan-field="next_text"]')).to_contain_text(
        "The plan was cancelled on"
    )
    expect(page.get_by_text("Cancel this plan")).to_have_count(0)
    check(page, "a cancelled plan")
    page.evaluate("() => { window.__sameDocument = true; }")
    subscription = Subscription.objects.get(order=order)
    assert subscription.state == Subscription.State.CANCELLED
    assert subscription.provider_stop == Subscription.Stop.STOPPED  # the emulator stopped it
    assert shop.emulator.payment(payment_id)["cancelledAt"]
    wait_for(lambda: _emails(order, "plan_cancelled") == 1, timeout=15, what="the cancel e-mail")

    # The merchant sees it cancelled.
    get_user_model().objects.create_superuser("merchant", "merchant@example.com", PASSWORD)
    admin = new_page(DESKTOP)
    sign_in(admin, shop.url, "merchant", PASSWORD)
    admin.goto(shop.url + "/admin/orders/subscription/?state__exact=cancelled")
    row = admin.locator("#result_list tbody tr").filter(has_text=order.number)
    expect(row).to_contain_text("Cancelled")
    expect(row).to_contain_text("Stopped by the payment provider")

    # banq charges the next installment anyway (a charge already under way).
    shop.emulator.next_installment(payment_id, force=True)
    expect(payments).to_have_count(2, timeout=QUICK)
    expect(payments.nth(1)).to_contain_text(
        re.compile(
            r"Payment 2 of 12: \$9\.90 taken on .*, after the plan was cancelled: it will "
            r"be refunded to you\."
        )
    )
    assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    wait_for(
        lambda: OrderFlag.objects.filter(
            order=order, kind=OrderFlag.Kind.INSTALLMENT_UNEXPECTED, resolved_at__isnull=True
        ).exists(),
        timeout=15,
        what="the charge flagged for a refund",
    )
    wait_for(
        lambda: _emails(order, "installment_after_cancel") == 1,
        timeout=15,
        what="one e-mail telling the shopper",
    )
    check(page, "a charge after the cancellation")
    snap(page, "plan-cancelled-charge-flagged", full_page=True)

    # The merchant refunds it in banq's dashboard and records it: the flag is handled.
    admin.goto(f"{shop.url}/admin/orders/order/{order.pk}/change/")
    expect(admin.locator("body")).to_contain_text("Installment outside the plan: refund")
    admin.get_by_role("link", name="Record a refund").click()
    late = Installment.objects.get(subscription__order=order, number=1)
    admin.get_by_label("Payment refunded").select_option(value=f"installment-{late.pk}")
    admin.get_by_label("Amount refunded").fill("9.90")
    admin.get_by_label("Reason").fill("Charged after you cancelled the plan")
    admin.get_by_role("button", name="Record the refund").click()
    expect(admin.locator(".messagelist")).to_contain_text("Refund of $9.90 recorded")
    wait_for(
        lambda: (
            not OrderFlag.objects.filter(
                order=order, kind=OrderFlag.Kind.INSTALLMENT_UNEXPECTED, resolved_at__isnull=True
            ).exists()
        ),
        timeout=5,
        what="the refund flag handled",
    )
    expect(payments.nth(1)).to_contain_text(
        "after the plan was cancelled: refunded.", timeout=QUICK
    )
    wait_for(lambda: _emails(order, "refunded") == 1, timeout=15, what="the refund e-mail")
