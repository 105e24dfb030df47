"""Widget script, hosted payment page, app approval page and dashboard, checked over HTTP."""

from __future__ import annotations

import re

import pytest
import requests

from tests.emulator.conftest import auth, create_link

pytestmark = pytest.mark.integration

SHOP = "http://shop.example:8000"


@pytest.fixture
def link(banq_emulator, api_token) -> dict:
    response = create_link(banq_emulator, api_token, funds=19.9, comment="Blue <teapot> & cup")
    return response.json()["data"]


def _payment(banq_emulator, api_token, payment_id) -> dict:
    return requests.get(
        f"{banq_emulator.api_url}/payments/{payment_id}", headers=auth(api_token), timeout=5
    ).json()["data"]


def test_widget_script_is_javascript_with_the_documented_api(banq_emulator):
    response = requests.get(banq_emulator.widget_url, timeout=5)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    js = response.text
    for name in (
        "window.ecommerceBanqWidget",
        "bootstrapApp",
        "destroyWidget",
        "getPaymentInfo",
        "onPopUpClose",
        "onPaymentSuccess",
        "successPayment",
        "event.origin",
        "Pay with banq",
        # banq's widget page is framed with this page's origin, and sizes its frame.
        '["origin", window.location.origin]',
        '"/widget/?"',
        '"styles"',
    ):
        assert name in js, name


def test_link_page_shows_payment_and_a_qr_code(banq_emulator, link):
    response = requests.get(link["url"], params={"origin": SHOP}, timeout=5)

    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers
    page = response.text
    assert "Emulator Goods LLC" in page
    assert "$19.90" in page
    assert "Blue &lt;teapot&gt; &amp; cup" in page
    assert "<teapot>" not in page
    assert "once" in page
    assert "<svg" in page
    assert "Pay $19.90" in page
    assert "InsufficientBalance" in page
    code = link["url"].rsplit("/", 1)[1]
    assert f"/app/approve/{code}" in page
    assert '"http://shop.example:8000"' in page


def test_unknown_link_is_404(banq_emulator):
    response = requests.get(f"{banq_emulator.url}/link/AAAAAAAAAAA", timeout=5)

    assert response.status_code == 404


def test_pay_completes_and_posts_success_to_the_origin(banq_emulator, api_token, link):
    response = requests.post(
        f"{link['url']}/pay",
        data={"email": "a@b.test", "password": "x", "origin": SHOP},
        timeout=5,
    )

    assert response.status_code == 200
    assert "Payment complete" in response.text
    assert '"type": "successPayment"' in response.text
    assert f'"paymentId": "{link["id"]}"' in response.text
    assert "postMessage(msg,ORIGIN)" in response.text
    assert 'var ORIGIN="http://shop.example:8000"' in response.text
    payment = _payment(banq_emulator, api_token, link["id"])
    assert payment["status"] == "completed"
    assert banq_emulator.payment(link["id"])["completedVia"] == "widget"
    # the link page now shows the state instead of the Pay button
    again = requests.get(link["url"], timeout=5).text
    assert "Payment complete" in again
    assert "Pay $19.90" not in again


def test_pay_without_a_valid_origin_posts_to_no_one(banq_emulator, link):
    response = requests.post(
        f"{link['url']}/pay",
        data={"email": "a@b.test", "password": "x", "origin": "javascript:alert(1)"},
        timeout=5,
    )

    assert response.status_code == 200
    assert "var ORIGIN=null" in response.text
    assert '"*"' not in response.text


def test_pay_without_password_is_refused(banq_emulator, api_token, link):
    response = requests.post(
        f"{link['url']}/pay", data={"email": "a@b.test", "password": ""}, timeout=5
    )

    assert response.status_code == 400
    assert _payment(banq_emulator, api_token, link["id"])["status"] == "created"


def test_decline_fails_with_the_chosen_reason(banq_emulator, api_token, link):
    response = requests.post(
        f"{link['url']}/decline",
        data={"reason": "PlaidBalanceCheckFailed", "origin": SHOP},
        timeout=5,
    )

    assert response.status_code == 200
    assert "Payment failed" in response.text
    assert "successPayment" not in response.text
    payment = _payment(banq_emulator, api_token, link["id"])
    assert payment["status"] == "failed"
    assert payment["failReason"] == "PlaidBalanceCheckFailed"


def test_decline_with_unknown_reason_is_400(banq_emulator, api_token, link):
    response = requests.post(f"{link['url']}/decline", data={"reason": "Nope"}, timeout=5)

    assert response.status_code == 400
    assert _payment(banq_emulator, api_token, link["id"])["status"] == "created"


def test_app_approval_completes_without_telling_the_widget(banq_emulator, api_token, link):
    code = link["url"].rsplit("/", 1)[1]
    approve_url = f"{banq_emulator.url}/app/approve/{code}"

    page = requests.get(approve_url, timeout=5)
    approved = requests.post(approve_url, timeout=5)
    status = requests.get(f"{link['url']}/status", timeout=5).json()["data"]

    assert "Approve payment" in page.text
    assert "$19.90" in page.text
    assert approved.status_code == 200
    assert "Payment complete" in approved.text
    assert "successPayment" not in approved.text
    assert _payment(banq_emulator, api_token, link["id"])["status"] == "completed"
    assert banq_emulator.payment(link["id"])["completedVia"] == "app"
    assert status == {"id": link["id"], "status": "completed", "failReason": None}


def test_close_button_posts_close_message(banq_emulator, link):
    page = requests.get(link["url"], params={"origin": SHOP}, timeout=5).text

    assert "type:'close'" in page
    assert re.search(r"id='close-button'", page)


def test_dashboard_lists_payments_deliveries_and_faults(banq_emulator, receiver, link):
    banq_emulator.set_webhook_config(receiver.url, types=("payment",))
    banq_emulator.complete(link["id"])
    banq_emulator.wait_for_deliveries(1)

    page = requests.get(f"{banq_emulator.url}/_emulator/", timeout=5)

    assert page.status_code == 200
    assert link["id"] in page.text
    assert "ORD-42" in page.text
    assert "/resend" in page.text
    assert receiver.url in page.text
    assert "latency_ms" in page.text


def test_dashboard_forms_post_and_redirect(banq_emulator, link):
    control = f"{banq_emulator.url}/_emulator/api"

    fail = requests.post(
        f"{control}/payments/{link['id']}/fail",
        data={"reason": "TierPlanLimits"},
        allow_redirects=False,
        timeout=5,
    )
    faults = requests.post(
        f"{control}/faults",
        data={"latency_ms": "5", "error_routes": "token,users-me", "token_ttl_s": ""},
        allow_redirects=False,
        timeout=5,
    )
    config = requests.post(
        f"{control}/webhook-config",
        data={"url": "http://127.0.0.1:9/x", "enabled": "on", "retryCount": "2"},
        allow_redirects=False,
        timeout=5,
    )

    assert fail.status_code == 303
    assert fail.headers["Location"] == "/_emulator/"
    assert banq_emulator.payment(link["id"])["failReason"] == "TierPlanLimits"
    assert faults.status_code == 303
    assert banq_emulator.faults()["latency_ms"] == 5
    assert banq_emulator.faults()["error_routes"] == ["token", "users-me"]
    assert config.status_code == 303
    assert banq_emulator.webhook_config()["retryCount"] == 2


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("InsufficientBalance", "Your banq account does not have enough money for this payment."),
        ("TierPlanLimits", "This payment is over your banq account's amount limit."),
        ("General Error", "Something went wrong at banq."),
        ("PlaidRequiresReAuthentication", "Your bank link needs to be authorised again"),
    ],
)
def test_failed_payment_page_says_banqs_reason_in_plain_words(banq_emulator, link, reason, words):
    banq_emulator.fail(link["id"], reason=reason)

    page = requests.get(link["url"], timeout=5).text
    approve = requests.get(
        f"{banq_emulator.url}/app/approve/{link['url'].rsplit('/', 1)[1]}", timeout=5
    ).text

    escaped = words.replace("'", "&#x27;")
    assert escaped in page
    assert escaped in approve
    assert f"Payment failed: {reason}" not in page
    assert f"data-reason='{reason}'" in page  # the code stays available
    assert f"<code>{reason}</code>" in page


def test_decline_page_shows_plain_words_with_the_code(banq_emulator, link):
    response = requests.post(
        f"{link['url']}/decline", data={"reason": "InsufficientBalance"}, timeout=5
    )

    assert "Your banq account does not have enough money for this payment." in response.text
    assert "Payment failed: InsufficientBalance" not in response.text


def test_link_page_offers_the_reasons_in_plain_words(banq_emulator, link):
    page = requests.get(link["url"], timeout=5).text

    assert (
        "<option value='TierPlanLimits'>This payment is over your banq account&#x27;s amount "
        "limit. (TierPlanLimits)</option>"
    ) in page


def test_favicon_is_served(banq_emulator):
    ico = requests.get(f"{banq_emulator.url}/favicon.ico", timeout=5)
    svg = requests.get(f"{banq_emulator.url}/favicon.svg", timeout=5)
    page = requests.get(f"{banq_emulator.url}/_emulator/", timeout=5).text

    assert ico.status_code == 200
    assert ico.headers["Content-Type"] == "image/x-icon"
    assert ico.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert b"\x89PNG" in ico.content
    assert svg.status_code == 200
    assert svg.headers["Content-Type"] == "image/svg+xml"
    assert svg.text.startswith("<svg")
    assert "<link rel='icon' href='/favicon.svg'" in page


def test_pages_have_the_accessibility_basics(banq_emulator, link):
    code = link["url"].rsplit("/", 1)[1]
    pages = {
        "link": requests.get(link["url"], timeout=5).text,
        "widget": requests.get(
            f"{banq_emulator.url}/widget/", params={"paymentLink": link["url"]}, timeout=5
        ).text,
        "approve": requests.get(f"{banq_emulator.url}/app/approve/{code}", timeout=5).text,
        "dashboard": requests.get(f"{banq_emulator.url}/_emulator/", timeout=5).text,
        "unknown": requests.get(f"{banq_emulator.url}/link/AAAAAAAAAAA", timeout=5).text,
    }

    for name, page in pages.items():
        assert page.startswith("<!doctype html><html lang='en'>"), name
        assert re.search(r"<title>[^<]+</title>", page), name
        assert page.count("<main>") == 1, name
        assert page.count("<h1") == 1, name
        ids = re.findall(r"\bid='([^']+)'", page)
        assert len(ids) == len(set(ids)), name
        for control in re.findall(r"<(?:input|select)\b[^>]*>", page):
            if "type='hidden'" in control or "type='checkbox'" in control:
                continue
            found = re.search(r"id='([^']+)'", control)
            labelled = "aria-label=" in control or (found and f"for='{found.group(1)}'" in page)
            assert labelled, (name, control)
    qr = pages["link"]
    assert "role='img' aria-label='QR code: scan it with the banq app to pay'" in qr
    assert "<title>Scan to pay with banq</title>" in qr


def test_widget_script_has_dialog_focus_and_busy_handling(banq_emulator):
    js = requests.get(banq_emulator.widget_url, timeout=5).text

    for needle in (
        'setAttribute("role", "dialog")',
        'setAttribute("aria-modal", "true")',
        'setAttribute("aria-label", LABEL)',
        'iframe.title = "Banq Checkout Widget"',
        "Contacting banq\\u2026",
        'setAttribute("aria-busy", "true")',
        'setAttribute("aria-live", "polite")',
        "el.inert = true",
        'event.key === "Escape"',
        'event.key === "Tab"',
        "target.focus()",
    ):
        assert needle in js, needle
