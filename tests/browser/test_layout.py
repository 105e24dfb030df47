"""Journey 10: on a desktop (1280 x 800), every shopper page of the journey keeps its controls
tap-sized (at least 24 x 24 px, WCAG 2.5.8) and inside the screen; banq's modal has one close
control (banq's own, in its page) and fits its page, with no empty band under it."""

from __future__ import annotations

import pytest

from tests.support.browser import (
    DESKTOP,
    box_of,
    expect,
    modal_frame,
    past_the_edge,
    small_targets,
    snap,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _tidy(page, label: str) -> None:
    """No control under 24 x 24 px and nothing past the screen's edge."""
    small = small_targets(page)
    assert not small, f"{label}: tap targets under 24 px:\n" + "\n".join(small)
    past = past_the_edge(page)
    assert not past, f"{label}: past the screen's edge:\n" + "\n".join(past)


def test_every_shopper_page_and_the_modal_are_tidy_on_a_desktop(shop, shopper, check):
    page = shopper.page
    shopper.catalog()
    _tidy(page, "catalog")
    page.get_by_role("link", name="City bicycle").click()
    expect(page.get_by_role("heading", name="City bicycle", level=1)).to_be_visible()
    _tidy(page, "product page")
    check(page, "product page")
    page.get_by_role("link", name="Back to the shop").click()
    shopper.add_to_cart("banq mug")
    _tidy(page, "cart")
    check(page, "cart")
    shopper.go_to_checkout()
    _tidy(page, "checkout")
    check(page, "checkout")
    snap(page, "desktop-checkout", full_page=True)
    shopper.place_order()
    _tidy(page, "order page")
    placed = page.locator("main p.muted").filter(has_text="Placed by")
    expect(placed).to_contain_text(" UTC.")  # the store's time zone, named
    refresh = page.get_by_role("link", name="Refresh the status")
    assert box_of(refresh)["height"] >= 24
    snap(page, "desktop-order", full_page=True)

    shopper.open_modal()
    dialog = box_of(shopper.dialog)
    frame = box_of(page.locator("iframe.banq-widget__frame"))
    # The dialog is its page: no band around the frame, and the frame as tall as its page.
    assert abs(dialog["height"] - frame["height"]) <= 1, (dialog, frame)
    content = modal_frame(page).evaluate("() => document.documentElement.scrollHeight")
    assert abs(frame["height"] - content) <= 2, (frame, content)
    assert dialog["height"] <= DESKTOP["height"], dialog
    expect(shopper.dialog.get_by_role("button")).to_have_count(0)
    expect(shopper.modal.get_by_role("button", name="Close")).to_have_count(1)
    _tidy(page, "order page with the banq modal")
    _tidy(modal_frame(page), "the banq payment page")
    check(page, "banq modal")
    snap(page, "desktop-modal")

    shopper.pay_in_modal()
    shopper.expect_confirmation()
    expect(page.get_by_role("heading", name="Payment confirmed.")).to_be_focused()
    expect(shopper.confirmation.locator('[data-field="paid_at"]')).to_contain_text(" UTC")
    _tidy(page, "confirmation")
    check(page, "confirmation")
    snap(page, "desktop-paid", full_page=True)
