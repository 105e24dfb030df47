"""Journey 9: on a phone (390 x 844), with a 60-character e-mail address, every page of the
journey and the banq modal fit the screen: nothing scrolls sideways, no element passes the
screen's edge (the long address wraps), every control is at least 24 x 24 px (WCAG 2.5.8), the
modal's one close button is fully visible, "Total" sits beside its amount, and the order number
and payment reference don't break badly."""

from __future__ import annotations

import pytest

from tests.support.browser import (
    PHONE,
    Storefront,
    box_of,
    expect,
    modal_frame,
    past_the_edge,
    small_targets,
    snap,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# 60 characters, and no hyphen or space where a line could break.
LONG_EMAIL = "samantha.theshopper.withaverylongmailboxname@exampleshop.com"

CUT_OFF = """(root) => {
  const width = document.documentElement.clientWidth;
  const controls = root.querySelectorAll('a, button, input, select, textarea, summary, [tabindex]');
  return Array.from(controls).filter(el => {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === 'hidden') return false;
    if (el.closest('.sr-only, .banq-widget__sr')) return false;
    return box.left < -0.5 || box.right > width + 0.5;
  }).map(el => el.outerHTML.slice(0, 120));
}"""


def _fits(page, label: str, width: int = PHONE["width"]) -> None:
    """Nothing scrolls sideways, no element passes the screen's edge, no control is cut off, and
    every control is a tap target of at least 24 x 24 px. ``page`` may be a frame (``width`` is
    then its own)."""
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"{label}: the page is {scroll} px wide on a phone"
    past = past_the_edge(page)
    assert not past, f"{label}: past the screen's edge:\n" + "\n".join(past)
    cut = page.evaluate(CUT_OFF, page.locator("body").element_handle())
    assert not cut, f"{label}: controls cut off: {cut}"
    small = small_targets(page)
    assert not small, f"{label}: tap targets under 24 px:\n" + "\n".join(small)


def _same_row(first, second) -> bool:
    a, b = box_of(first), box_of(second)
    return abs((a["y"] + a["height"] / 2) - (b["y"] + b["height"] / 2)) < 4


def _one_line(locator) -> bool:
    return locator.evaluate(
        "el => el.getClientRects().length === 1 && el.scrollWidth <= el.clientWidth + 1"
    )


def test_the_order_page_and_the_modal_fit_a_phone(shop, new_page, check):
    assert len(LONG_EMAIL) == 60
    page = new_page(PHONE, is_mobile=True, has_touch=True)
    shopper = Storefront(page, shop.url, check)
    shopper.catalog()
    _fits(page, "catalog")
    shopper.add_to_cart("banq mug")
    shopper.page.get_by_role("link", name="Shop").click()
    shopper.add_to_cart("City bicycle")
    _fits(page, "cart")
    check(page, "cart on a phone")
    foot = page.locator("table.lines tfoot")
    assert _same_row(foot.get_by_text("Total", exact=True), foot.locator(".total"))
    snap(page, "phone-cart")

    shopper.go_to_checkout()
    _fits(page, "checkout")
    check(page, "checkout on a phone")
    page.get_by_label("E-mail").fill(LONG_EMAIL)
    _fits(page, "checkout with a long e-mail address")
    snap(page, "phone-checkout", full_page=True)
    shopper.place_order(email=LONG_EMAIL)
    expect(page.locator("main")).to_contain_text(LONG_EMAIL)
    _fits(page, "order page")
    snap(page, "phone-order", full_page=True)
    foot = page.locator("table.lines tfoot")
    assert _same_row(foot.get_by_text("Total", exact=True), foot.locator(".total"))
    check(page, "order page on a phone")

    shopper.open_modal()
    # One close control: banq's own, in its page (the dialog around it has no button).
    expect(shopper.dialog.get_by_role("button")).to_have_count(0)
    close = shopper.modal.get_by_role("button", name="Close")
    expect(close).to_have_count(1)
    expect(close).to_be_in_viewport(ratio=1)
    box = box_of(shopper.dialog)
    assert box["x"] >= 0, box
    assert box["x"] + box["width"] <= PHONE["width"], box
    expect(shopper.modal.get_by_role("button", name="Pay $1,269.90")).to_be_in_viewport(ratio=1)
    _fits(page, "order page with the banq modal")
    frame = modal_frame(page)
    frame_width = frame.evaluate("() => document.documentElement.clientWidth")
    assert frame_width <= box["width"]
    _fits(frame, "the banq payment page", frame_width)
    check(page, "banq modal on a phone")
    snap(page, "phone-modal")
    shopper.modal.locator(".qr").evaluate("el => el.scrollIntoView({block: 'end'})")
    expect(shopper.modal.locator(".qr svg")).to_be_in_viewport(ratio=1)
    snap(page, "qr-modal-phone")

    shopper.modal.locator("#pay-button").scroll_into_view_if_needed()
    shopper.pay_in_modal()
    shopper.expect_confirmation()
    snap(page, "phone-confirmation", full_page=True)
    _fits(page, "confirmation")
    facts = shopper.confirmation.locator(".facts")
    assert _one_line(facts.locator("dd").first), "the order number breaks on a phone"
    reference = facts.locator('[data-field="payment_reference"]')
    assert _one_line(reference), "the payment reference breaks on a phone"
    box, outer = box_of(reference), box_of(facts)
    assert box["x"] + box["width"] <= outer["x"] + outer["width"] + 0.5
    assert _one_line(page.get_by_role("heading", level=1)), "the order heading breaks"
    check(page, "confirmation on a phone")
