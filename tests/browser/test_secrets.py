"""Check 11, after every journey (conftest.py runs it last): no configured secret (the banq
password, the webhook token, the Django secret key, banq's access tokens) is in any page served,
any JSON answer or error, any socket frame, or the logs of the store, the worker and the emulator.

It makes its own short round too (a payment link, JSON errors, the emulator's pages), so it checks
something even when it runs alone."""

from __future__ import annotations

import uuid

import pytest

from tests.support.browser import SECRET_KEY, WEBHOOK_TOKEN, expect, tokens_issued

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_no_secret_reached_a_page_a_log_or_an_error(shop, shopper, new_page, watch, check):
    public_id = shopper.order_with("Sticker")
    shopper.open_modal()  # the store gets a banq access token and a payment link

    page = shopper.page
    csrf = page.locator("#order-payment").get_attribute("data-csrf")
    webhook = f"{shop.url}/webhooks/banq/{WEBHOOK_TOKEN}/payment-status/"
    probes = [
        ("POST", f"{shop.url}/generate-payment-link", {}, "not json"),
        ("POST", f"{shop.url}/generate-payment-link", {"X-CSRFToken": csrf}, "not json"),
        ("POST", f"{shop.url}/generate-payment-link", {"X-CSRFToken": csrf}, '{"orderId": 1}'),
        ("GET", f"{shop.url}/generate-payment-link", {}, None),
        ("GET", f"{shop.url}/orders/{uuid.uuid4()}/status", {}, None),
        ("POST", f"{shop.url}/orders/{public_id}/confirm", {}, None),
        ("POST", webhook, {"Content-Type": "application/json"}, "{not json"),
        ("POST", webhook, {"Content-Type": "application/json"}, '{"action": "completed"}'),
        ("POST", webhook.replace(WEBHOOK_TOKEN, "wrong-token-" + "x" * 24), {}, "{}"),
        ("GET", f"{shop.url}/no-such-page/", {}, None),
        ("GET", f"{shop.url}/admin/orders/order/", {}, None),
        ("GET", f"{shop.emulator.url}/_emulator/api/state", {}, None),
        ("GET", f"{shop.emulator.url}/_emulator/api/deliveries", {}, None),
        ("GET", f"{shop.emulator.api_url}/payments/{uuid.uuid4()}", {}, None),
    ]
    errors = 0
    for method, url, headers, body in probes:
        answer = page.request.fetch(url, method=method, headers=headers, data=body)
        errors += answer.status >= 400
        watch.saw(f"{answer.status} {method} {url}", answer.text())
        watch.saw(f"headers of {method} {url}", repr(answer.headers))
    assert errors >= 10  # the round did reach the error answers

    dashboard = new_page()
    dashboard.goto(shop.emulator.url + "/_emulator/")
    expect(dashboard.get_by_role("heading", name="Webhook config")).to_be_visible()
    check(dashboard, "emulator dashboard with a payment")

    for token in tokens_issued(shop.emulator):
        watch.secret(token, "a banq access token")
    store_log = shop.store.output()
    assert "storefront.access" in store_log  # the access log, where a webhook URL would show
    assert "/webhooks/banq/" in store_log
    watch.saw("the store's log", store_log)
    watch.saw("the worker's log", shop.worker.output())
    watch.saw("the emulator's log", shop.emulator.log())

    kinds = set(watch.secrets.values())
    assert kinds == {
        "the banq password",
        "the webhook token",
        "the Django secret key",
        "a banq access token",
    }, kinds
    assert SECRET_KEY in watch.secrets
    pages = [where for where, _ in watch.texts if where.startswith("200 GET")]
    assert len(pages) >= 5, pages
    assert watch.leaks() == []
