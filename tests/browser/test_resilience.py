"""Journeys 4 to 6: the page still gets to "Payment confirmed" when the WebSocket is blocked, when
banq is down or slow, and when banq's webhooks never arrive."""

from __future__ import annotations

import re

import pytest

from banq.models import BanqPayment
from orders.models import Order, OrderEvent
from tests.support.browser import PHONE, QUICK, SWEEP, expect, snap

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STATUS_URL = re.compile(r"/orders/[0-9a-f-]{36}/status")


def _approve_in_the_banq_app(shopper, new_page) -> None:
    phone = new_page(PHONE, is_mobile=True, has_touch=True)
    phone.goto(shopper.approve_url())
    phone.get_by_role("button", name="Approve payment").click()
    expect(phone.locator("#payment-state")).to_have_text("Payment complete")


def _history(public_id: str) -> list[tuple[str, str]]:
    return list(
        Order.objects.get(public_id=public_id).history.values_list("kind", "source").order_by("pk")
    )


def test_with_the_websocket_blocked_polling_still_shows_the_confirmation(shop, shopper, new_page):
    page = shopper.page
    refused: list[str] = []

    def refuse(socket) -> None:
        refused.append(socket.url)
        socket.close(code=1011, reason="blocked by the test")

    page.route_web_socket(re.compile(r"/ws/orders/"), refuse)
    polled: list[dict] = []
    page.on(
        "response",
        lambda r: polled.append(r.json()) if STATUS_URL.search(r.url) and r.ok else None,
    )
    public_id = shopper.order_with("Canvas tote bag")
    shopper.open_modal()
    _approve_in_the_banq_app(shopper, new_page)  # the widget hears nothing: only polling can tell

    shopper.expect_confirmation(timeout=SWEEP)
    assert refused, "the page never tried its WebSocket"
    assert polled, "the page never polled"
    assert polled[-1]["status"] == "paid", polled
    assert Order.objects.get(public_id=public_id).status == Order.Status.PAID


def test_banq_down_then_slow_the_shopper_is_told_and_a_retry_pays(shop, shopper, new_page, check):
    page = shopper.page
    public_id = shopper.order_with("City bicycle")
    new_page.errors_of(page).allow(r"status of 502 .*/generate-payment-link")

    shop.emulator.set_faults(error_rate=1.0, error_routes=["get-paid-link"])
    shopper.pay_button.click()
    problem = page.get_by_text("The payment could not be started; nothing was charged.").filter(
        visible=True
    )
    expect(problem).to_have_count(1)
    expect(shopper.dialog).to_have_count(0)
    expect(shopper.pay_button).to_have_text("Pay with banq")
    check(page, "order page, banq down")
    snap(page, "banq-down")
    assert shop.emulator.payments() == []
    order = Order.objects.get(public_id=public_id)
    assert order.status != Order.Status.PAID
    assert not BanqPayment.objects.filter(order=order, banq_payment_id__gt="").exists()

    # banq is back, but slow: the shopper sees that we are contacting banq, then the modal.
    shop.emulator.set_faults(error_rate=0.0, latency_ms=3000)
    shopper.pay_button.click()
    waiting = page.get_by_text("Contacting banq for your payment link…")
    expect(waiting).to_be_visible()
    expect(shopper.pay_button).to_have_text("Contacting banq…")
    expect(problem).to_have_count(0)
    check(page, "order page, contacting banq")
    snap(page, "contacting-banq")
    shopper.wait_for_modal(timeout=QUICK + 6_000)
    expect(waiting).to_be_hidden()
    shop.emulator.set_faults(latency_ms=0)
    shopper.pay_in_modal()
    shopper.expect_confirmation()

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert [p["status"] for p in shop.emulator.payments()] == ["completed"]


def test_with_every_webhook_dropped_both_paths_reach_the_confirmation(
    shop, shopper, new_page, check
):
    shop.emulator.set_faults(drop_deliveries=1.0)

    # The widget path: confirmed on the shopper's word, which the store checks with banq.
    widget_order = shopper.order_with("banq mug")
    shopper.open_modal()
    shopper.pay_in_modal()
    shopper.expect_confirmation()
    assert ("paid", OrderEvent.Source.CONFIRM) in _history(widget_order)

    # The QR path: nobody tells the store; the worker's sweep asks banq and the page flips.
    qr_order = shopper.order_with("Sticker")
    shopper.open_modal()
    _approve_in_the_banq_app(shopper, new_page)
    shopper.expect_confirmation(timeout=SWEEP)
    assert ("paid", OrderEvent.Source.SWEEP) in _history(qr_order)

    deliveries = shop.emulator.deliveries()
    assert deliveries
    assert {d["status"] for d in deliveries} == {"dropped"}
    for public_id in (widget_order, qr_order):
        order = Order.objects.get(public_id=public_id)
        assert order.status == Order.Status.PAID
        assert order.history.filter(kind=OrderEvent.Kind.PAID).count() == 1
