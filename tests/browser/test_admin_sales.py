"""The merchant's sales chart and CSV export in a real browser against the real store (daphne):
the chart beside its table on the admin index, axe-clean; the order list's export link downloads
the filtered orders, streamed."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from orders.models import Order
from tests.factories import order_create
from tests.support.browser import DESKTOP, box_of, expect, snap

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _sign_in(page, url: str) -> None:
    get_user_model().objects.create_superuser("merchant", "merchant@example.com", "merchant-pw-1")
    page.goto(url + "/admin/")
    page.get_by_label("Username").fill("merchant")
    page.get_by_label("Password").fill("merchant-pw-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def test_the_merchant_reads_the_sales_chart_and_exports_the_filtered_orders(shop, new_page, check):
    now = timezone.now()
    for days_ago in range(0, 30, 3):
        for _ in range(1 + days_ago % 4):
            order_create(status=Order.Status.PAID, total="24.00", paid_at=now - timedelta(days_ago))
    paid_today = order_create(
        status=Order.Status.PAID, total="12.50", paid_at=now, email="=cmd@example.com"
    )
    order_create(status=Order.Status.EXPIRED, total="99.00")
    page = new_page(DESKTOP)
    _sign_in(page, shop.url)

    chart = page.locator("#sales-chart")
    expect(chart.locator("svg[role=img]")).to_be_visible()
    table = chart.get_by_role("table", name="Sales per day, USD, newest first")
    today = table.locator("tbody tr").first
    expect(today).to_contain_text("$36.50")  # one order of 24.00 and one of 12.50, today
    figure, beside = box_of(chart.locator("figure")), box_of(chart.locator(".sales-table"))
    assert beside["x"] >= figure["x"] + figure["width"], "the table is not beside the chart"
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= DESKTOP["width"], f"the admin index is {width} px wide"
    check(page, "admin index with the sales chart")
    snap(page, "admin-chart", full_page=True, clip=box_of(chart))

    page.goto(shop.url + "/admin/orders/order/?status__exact=paid")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export orders (CSV)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("orders-")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert len(rows) == Order.objects.filter(status=Order.Status.PAID).count()
    assert {row["payment status"] for row in rows} == {"paid"}
    hostile = next(row for row in rows if row["number"] == paid_today.number)
    assert hostile["e-mail"] == "'=cmd@example.com"
