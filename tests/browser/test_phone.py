"""Journey 9: on a phone (390 x 844) the cart, the order page and the banq modal fit the screen:
the modal's close button is fully visible, no control is cut off, "Total" sits beside its
amount, and the order number and payment reference don't break badly."""

from __future__ import annotations

import pytest

from tests.support.browser import PHONE, Storefront, box_of, expect, snap

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

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


def _fits(page, label: str) -> None:
    """Nothing scrolls sideways and no control sticks out of the screen."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{label}: the page is {width} px wide on a phone"
    cut = page.evaluate(CUT_OFF, page.locator("body").element_handle())
    assert not cut, f"{label}: controls cut off: {cut}"


def _same_row(first, second) -> bool:
    a, b = box_of(first), box_of(second)
    return abs((a["y"] + a["height"] / 2) - (b["y"] + b["height"] / 2)) < 4


def _one_line(locator) -> bool:
    return locator.evaluate(
        "el => el.getClientRects().length === 1 && el.scrollWidth <= el.clientWidth + 1"
    )


def test_the_order_page_and_the_modal_fit_a_phone(shop, new_page, check):
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
    shopper.place_order()
    _fits(page, "order page")
    foot = page.locator("table.lines tfoot")
    assert _same_row(foot.get_by_text("Total", exact=True), foot.locator(".total"))
    check(page, "order page on a phone")

    shopper.open_modal()
    close = shopper.dialog.get_by_role("button", name="Close")
    expect(close).to_be_in_viewport(ratio=1)
    for part in (close, shopper.dialog):
        box = box_of(part)
        assert box["x"] >= 0, box
        assert box["x"] + box["width"] <= PHONE["width"], box
    expect(shopper.modal.get_by_role("button", name="Pay $1,269.90")).to_be_in_viewport(ratio=1)
    frame = next(f for f in page.frames if "/link/" in f.url)
    _fits(frame, "the banq payment page")
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
