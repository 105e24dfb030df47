"""The merchant's admin in the browser: a product photo uploaded there shows in the catalog with
``srcset``, a text file named ``.png`` is refused and nothing is saved; and axe-core finds no
violation on the admin's pages (the order list with its date-range filters, an order, the
subscriptions, webhook events, products), headed with the store's name."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from orders.models import Order, Product, Subscription
from tests.admin.conftest import full_order
from tests.support.browser import DESKTOP, expect, snap

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "merchant-pw-5150"


def signed_in_merchant(shop, new_page, check):
    get_user_model().objects.create_superuser("merchant", "merchant@example.com", PASSWORD)
    page = new_page(DESKTOP)
    page.goto(shop.url + "/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("merchant")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    expect(page.locator("#site-name")).to_have_text("banq demo store")
    expect(page).to_have_title(re.compile(r"banq demo store admin$"))
    check(page, "admin index")
    return page


def photo_png(path: Path, size=(1200, 900)) -> Path:
    image = Image.new("RGB", size, (30, 110, 200))
    for x in range(0, size[0], 40):  # something to see, not one flat colour
        image.paste((240, 200, 40), (x, 0, x + 20, size[1]))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def files_in(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_a_photo_uploaded_in_the_admin_shows_in_the_catalog_with_srcset(
    shop, new_page, check, tmp_path
):
    page = signed_in_merchant(shop, new_page, check)
    mug = Product.objects.get(slug="banq-mug")
    page.goto(f"{shop.url}/admin/orders/product/{mug.pk}/change/")
    check(page, "admin product")

    # A text file named .png: refused on the form, nothing saved.
    fake = tmp_path / "mug-photo.png"
    fake.write_text("not a picture at all\n" * 50)
    page.get_by_label("Photo:").set_input_files(str(fake))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errornote")).to_be_visible()
    expect(page.locator(".field-photo .errorlist")).to_contain_text(
        "not a JPEG, PNG, WebP or GIF image"
    )
    check(page, "admin product with a refused photo")
    mug.refresh_from_db()
    assert not mug.photo
    assert mug.photo_variants == []
    assert files_in(shop.media_root) == set()

    # A real photo: stored with its sizes, shown in the catalog.
    page.get_by_label("Photo:").set_input_files(str(photo_png(tmp_path / "mug.png")))
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")
    preview = page.locator(".field-photo_preview img")
    expect(preview).to_have_attribute("srcset", re.compile(r"w160\.webp 160w"))
    check(page, "admin product with its photo")
    mug.refresh_from_db()
    assert [v["width"] for v in mug.photo_variants] == [160, 320, 480, 640, 960]
    assert files_in(shop.media_root) == {
        mug.photo.name,
        *(v["name"] for v in mug.photo_variants),
    }

    shopper = new_page(DESKTOP)
    shopper.goto(shop.url + "/")
    card = shopper.locator(".product-card").filter(has_text="banq mug")
    img = card.locator("img")
    expect(img).to_have_attribute("srcset", re.compile(r"/media/products/[0-9a-f]{32}/w160\.webp"))
    expect(img).to_have_attribute("width", "160")
    expect(img).to_have_attribute("height", "120")
    img.scroll_into_view_if_needed()
    shopper.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=img.element_handle()
    )
    current = img.evaluate("img => img.currentSrc")
    assert re.search(r"/media/products/[0-9a-f]{32}/w\d+\.webp$", current), current
    assert img.evaluate("img => img.getBoundingClientRect().width") == 160
    check(shopper, "catalog with a photo")
    snap(shopper, "catalog-with-a-photo")
    # The other products keep their illustrations.
    tote = shopper.locator(".product-card").filter(has_text="Canvas tote bag").locator("img")
    expect(tote).to_have_attribute("src", re.compile(r"^/static/orders/products/"))

    shopper.goto(shop.url + mug.get_absolute_url())
    detail = shopper.locator(".product-detail img")
    expect(detail).to_have_attribute("width", "280")
    expect(detail).to_have_attribute("height", "210")
    expect(detail).to_have_attribute("srcset", re.compile(r"960w"))
    check(shopper, "product page with a photo")


def _a_plan_and_its_events():
    order, _, event = full_order()
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.PAID, paid_at=timezone.now() - timedelta(days=2), recurring=True
    )
    Subscription.objects.create(
        order=order,
        product_name="Coffee club",
        frequency="monthly",
        start_date=timezone.localdate(),
        amount="9.00",
        currency="USD",
        state=Subscription.State.ACTIVE,
        next_number=1,
        next_due_date=timezone.localdate() + timedelta(days=30),
    )
    return order, event


def test_the_admins_pages_pass_axe(shop, new_page, check):
    order, event = _a_plan_and_its_events()
    page = signed_in_merchant(shop, new_page, check)

    page.goto(shop.url + "/admin/orders/order/")
    row = page.locator("#result_list tbody tr").filter(has_text=order.number)
    expect(row.locator(".field-name")).to_have_text("Sam Shopper")
    expect(row.locator(".field-total_display")).to_have_text("$19.99")
    placed = page.locator('details[data-filter-title="placed between"]')
    expect(placed.get_by_role("textbox", name="From date")).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= DESKTOP["width"], f"the order list is {width} px wide"
    check(page, "admin order list")

    since = (timezone.localdate() - timedelta(days=7)).isoformat()
    page.goto(f"{shop.url}/admin/orders/order/?paid_at__range__gte={since}")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    check(page, "admin order list, paid in a date range")

    page.goto(f"{shop.url}/admin/orders/order/{order.pk}/change/")
    expect(page.locator(".field-total_display .readonly")).to_have_text("$19.99")
    expect(page.locator(".field-name .readonly")).to_have_text("Sam Shopper")  # paid: fixed
    check(page, "admin paid order")

    page.goto(shop.url + "/admin/orders/subscription/")
    expect(page.get_by_role("link", name="Coffee club")).to_be_visible()
    check(page, "admin subscriptions")

    page.goto(shop.url + "/admin/webhooks/webhookevent/")
    check(page, "admin webhook events")
    page.goto(f"{shop.url}/admin/webhooks/webhookevent/{event.pk}/change/")
    expect(page.get_by_text("Body stored whole")).to_be_visible()
    expect(page.get_by_text("Why the event is not processed")).to_have_count(0)
    check(page, "admin processed webhook event")

    # Every list the admin has, and the app pages.
    for model in admin.site._registry:
        opts = model._meta
        path = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        page.goto(shop.url + path)
        expect(page.locator("#content h1")).to_be_visible()
        check(page, f"admin {path}")
    for app in ("orders", "banq", "webhooks"):
        page.goto(f"{shop.url}/admin/{app}/")
        check(page, f"admin app {app}")
