"""Journey 3: keyboard only. The first Tab reaches "Skip to content", which moves focus to the
page's content; Tab to Pay, Enter, focus inside the banq modal and kept there (its one close
button is banq's own, in its page), Escape closes it (from the modal and from inside its payment
page) and focus returns to Pay, then paying with the keyboard, and focus lands on the
confirmation."""

from __future__ import annotations

import pytest

from orders.models import Order
from tests.support.browser import expect, focused_in_frame, focused_in_modal

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MAX_TABS = 25


def _tab_until(page, reached, what: str, *, inside_modal: bool = False) -> list[str]:
    """Press Tab until ``reached()``; with ``inside_modal``, focus must never leave the modal.
    Returns where focus went, step by step."""
    steps = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        where = focused_in_frame(page) or page.evaluate(
            "() => document.activeElement.getAttribute('aria-label') ||"
            " document.activeElement.textContent.trim().slice(0, 30) ||"
            " document.activeElement.tagName"
        )
        steps.append(where)
        if inside_modal:
            assert focused_in_modal(page), f"Tab left the modal: {steps}"
        if reached():
            return steps
    raise AssertionError(f"{what} not reached with Tab: {steps}")


def test_a_keyboard_only_shopper_pays(shop, shopper, check):
    page = shopper.page
    public_id = shopper.order_with("Dotted notebook")
    page.reload()  # a fresh page: focus starts at the top, as for any visitor

    # The first stop is the skip link, shown when focused; it moves focus to the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport(ratio=1)
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()

    pay = shopper.pay_button
    _tab_until(page, lambda: pay.evaluate("el => el === document.activeElement"), "Pay with banq")
    expect(pay).to_be_focused()

    # Enter opens the modal, focus moves into it; Escape closes it and focus returns to Pay.
    page.keyboard.press("Enter")
    shopper.wait_for_modal()
    assert focused_in_modal(page)
    page.keyboard.press("Escape")
    expect(shopper.dialog).to_have_count(0)
    expect(pay).to_be_focused()

    # Tab goes round inside the modal only: the payment page's controls (its Close first), and
    # back. The dialog around the page has no control of its own.
    page.keyboard.press("Enter")
    shopper.wait_for_modal()
    expect(shopper.dialog.get_by_role("button")).to_have_count(0)
    steps = _tab_until(page, lambda: focused_in_frame(page) == "email", "E-mail", inside_modal=True)
    assert steps[0] == "close-button", steps
    check(page, "banq modal, keyboard")
    # Escape inside the payment page (another document) closes the modal too.
    page.keyboard.press("Escape")
    expect(shopper.dialog).to_have_count(0)
    expect(pay).to_be_focused()

    page.keyboard.press("Enter")
    shopper.wait_for_modal()
    _tab_until(page, lambda: focused_in_frame(page) == "close-button", "Close", inside_modal=True)
    # Shift-Tab from the first control wraps round to the payment page's last one, not to the
    # page behind.
    page.keyboard.press("Shift+Tab")
    assert focused_in_modal(page)
    assert focused_in_frame(page) not in (None, "close-button", "body")
    _tab_until(page, lambda: focused_in_frame(page) == "pay-button", "Pay $7.35", inside_modal=True)
    steps = _tab_until(
        page, lambda: focused_in_frame(page) == "close-button", "Close", inside_modal=True
    )
    assert len(steps) > 1, steps  # past the payment page's last control, round to Close

    _tab_until(page, lambda: focused_in_frame(page) == "pay-button", "Pay $7.35", inside_modal=True)
    page.keyboard.press("Enter")
    shopper.expect_confirmation()
    # The Pay button is gone: focus goes to the confirmation, not to the page's body.
    expect(page.get_by_role("heading", name="Payment confirmed.")).to_be_focused()
    assert Order.objects.get(public_id=public_id).status == Order.Status.PAID
