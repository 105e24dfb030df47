"""Content-Security-Policy on every page: a nonce, no 'unsafe-inline' for scripts, banq's widget
and payment pages for the configured environment; no inline handler left in a template; the
violation report endpoint, its size and rate limits; the other security headers."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client

from orders.access import order_signed_url
from orders.models import Order
from tests.factories import order_create, product_create
from tests.production.test_settings import clean_env, settings_of

pytestmark = pytest.mark.django_db

TEMPLATES = Path(django_settings.BASE_DIR) / "templates"


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def html_pages(client: Client) -> dict[str, object]:
    product = product_create(name="Mug", price="12.00")
    order = order_create(status=Order.Status.PENDING, total="12.00")
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-boss-123")
    staff = Client()
    staff.force_login(admin)
    assert client.post("/cart/add/", {"product": product.pk, "quantity": 1}).status_code == 302
    return {
        "catalog": client.get("/"),
        "product": client.get(product.get_absolute_url()),
        "cart": client.get("/cart/"),
        "checkout": client.get("/checkout/"),
        "order": client.get(order_signed_url(order=order)),
        "not found": client.get("/no-such-page/"),
        "admin login": client.get("/admin/login/"),
        "admin index": staff.get("/admin/"),
        "admin order": staff.get(f"/admin/orders/order/{order.pk}/change/"),
    }


def test_every_html_page_has_a_policy_with_a_nonce_and_no_unsafe_inline_script(client):
    pages = html_pages(client)

    for name, response in pages.items():
        assert response.status_code == (404 if name == "not found" else 200), name
        assert response["Content-Type"].startswith("text/html"), name
        script_src = policy(response)["script-src"]
        assert "'unsafe-inline'" not in script_src, name
        assert "'unsafe-eval'" not in script_src, name
        nonces = [v for v in script_src if v.startswith("'nonce-")]
        assert len(nonces) == 1, (name, script_src)
        directives = policy(response)
        assert directives["object-src"] == ["'none'"], name
        assert directives["frame-ancestors"] == ["'none'"], name
        assert directives["base-uri"] == ["'none'"], name
        assert directives["report-uri"] == ["/csp-report/"], name


def test_each_response_has_its_own_nonce_and_the_page_scripts_carry_it(client):
    order = order_create(status=Order.Status.PENDING, total="12.00")
    first = client.get(order_signed_url(order=order))
    second = client.get(order_signed_url(order=order))

    nonce = policy(first)["script-src"][1].removeprefix("'nonce-").removesuffix("'")
    assert nonce != policy(second)["script-src"][1].removeprefix("'nonce-").removesuffix("'")
    scripts = re.findall(r"<script\b[^>]*>", first.content.decode())
    assert len(scripts) == 2  # banq's widget and the page's own
    assert all(f'nonce="{nonce}"' in tag for tag in scripts), scripts


def test_the_order_page_may_run_banqs_widget_frame_its_page_and_open_its_socket(client):
    order = order_create(status=Order.Status.PENDING, total="12.00")

    directives = policy(client.get(order_signed_url(order=order)))

    assert directives["script-src"][0] == "'self'"
    assert django_settings.BANQ_WIDGET_ORIGIN in directives["script-src"]
    assert directives["frame-src"] == django_settings.BANQ_FRAME_ORIGINS
    assert directives["connect-src"] == ["'self'", "ws://testserver"]


def test_the_socket_of_an_https_page_is_wss(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["shop.example.com"]

    response = client.get("/", HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="shop.example.com")

    assert policy(response)["connect-src"] == ["'self'", "wss://shop.example.com"]


@pytest.mark.parametrize(
    ("environment", "extra", "script_origin", "frames"),
    [
        (
            "emulator",
            {"BANQ_EMULATOR_URL": "http://127.0.0.1:8123"},
            "http://127.0.0.1:8123",
            ["http://127.0.0.1:8123"],
        ),
        (
            "sandbox",
            {},
            "https://sandbox.banq.com",
            ["https://sandbox.banq.com", "https://link.banq.com"],
        ),
        (
            "production",
            {"BANQ_WIDGET_URL": "https://cdn.banq.example/widget/ecommerce.js"},
            "https://cdn.banq.example",
            ["https://cdn.banq.example", "https://link.banq.com"],
        ),
    ],
)
def test_banqs_origins_follow_the_environment(environment, extra, script_origin, frames):
    found = settings_of(
        clean_env(BANQ_ENVIRONMENT=environment, **extra), "BANQ_WIDGET_ORIGIN", "BANQ_FRAME_ORIGINS"
    )

    assert found == {"BANQ_WIDGET_ORIGIN": script_origin, "BANQ_FRAME_ORIGINS": frames}


INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def test_no_template_has_an_inline_handler_an_inline_script_or_a_javascript_url():
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        assert not INLINE_HANDLER.search(text), path
        assert not INLINE_SCRIPT.search(text), path
        assert "javascript:" not in text.lower(), path
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "nonce=" in tag, (path, tag)


def test_the_other_security_headers(client):
    response = client.get("/")

    assert response["Referrer-Policy"] == "same-origin"
    # banq's widget may open its payment page as a pop-up that talks back to the order page.
    assert response["Cross-Origin-Opener-Policy"] == "same-origin-allow-popups"
    permissions = response["Permissions-Policy"]
    for feature in ("camera=()", "microphone=()", "geolocation=()", "usb=()"):
        assert feature in permissions
    assert "payment" not in permissions  # banq's payment page keeps it
    assert response["X-Frame-Options"] == "DENY"


# --- the report endpoint ------------------------------------------------------------------------


def report(document: str = "http://testserver/", blocked: str = "inline") -> dict:
    return {
        "csp-report": {
            "document-uri": document,
            "referrer": "",
            "violated-directive": "script-src-elem",
            "effective-directive": "script-src-elem",
            "original-policy": "script-src 'self'",
            "blocked-uri": blocked,
            "status-code": 200,
            "source-file": document,
            "line-number": 12,
        }
    }


def post_report(client, body, content_type="application/csp-report", **extra):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post("/csp-report/", data=data, content_type=content_type, **extra)


def test_a_violation_is_logged_without_the_pages_secrets(client, caplog):
    caplog.set_level(logging.WARNING, logger="storefront.csp")
    document = "http://testserver/orders/abc/?key=1q2w3e:SeCrEtSiGnAtUrE"

    response = post_report(client, report(document=document, blocked="https://evil.example/x.js"))

    assert response.status_code == 204
    lines = [r.getMessage() for r in caplog.records if r.name == "storefront.csp"]
    assert len(lines) == 1
    assert "script-src-elem blocked https://evil.example/x.js" in lines[0]
    assert "SeCrEtSiGnAtUrE" not in lines[0]
    assert "?key=<redacted>" in lines[0]


def test_reporting_api_reports_are_read_too(client, caplog):
    caplog.set_level(logging.WARNING, logger="storefront.csp")
    body = [
        {
            "type": "csp-violation",
            "url": "http://testserver/",
            "body": {
                "documentURL": "http://testserver/",
                "blockedURL": "eval",
                "effectiveDirective": "script-src",
            },
        }
    ]

    response = post_report(client, body, content_type="application/reports+json")

    assert response.status_code == 204
    assert any("script-src blocked eval" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"csp-report": "x"}', b"[1, 2]"])
def test_a_body_that_is_no_report_is_a_400(client, body):
    assert post_report(client, body).status_code == 400


def test_an_oversized_report_is_a_413(client, settings):
    settings.CSP_REPORT_MAX_BYTES = 1024
    body = report(blocked="https://evil.example/" + "x" * 2000)

    response = post_report(client, body)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_a_flood_of_reports_is_rate_limited_per_address(client, settings, caplog):
    settings.CSP_REPORT_RATE_LIMIT = 3
    caplog.set_level(logging.WARNING, logger="storefront.csp")

    answers = [
        post_report(client, report(), REMOTE_ADDR="198.51.100.4").status_code for _ in range(6)
    ]
    other = post_report(client, report(), REMOTE_ADDR="198.51.100.5")

    assert answers == [204, 204, 204, 429, 429, 429]
    assert other.status_code == 204
    assert len([r for r in caplog.records if r.name == "storefront.csp"]) == 4


def test_the_edge_knows_the_reports_limit_before_reading_the_body(settings):
    """The store's server and its ASGI edge refuse a larger declared report with 413 unread."""
    from storefront.limits import body_limit_for_path

    settings.CSP_REPORT_MAX_BYTES = 8192

    assert body_limit_for_path("/csp-report/") == 8192


def test_json_answers_carry_no_policy(client):
    """A policy governs documents; the JSON hot paths (webhook, payment link, status) skip it."""
    order = order_create(status=Order.Status.PENDING, total="12.00")
    key = order_signed_url(order=order).split("key=", 1)[1]

    response = client.get(f"/orders/{order.public_id}/status?key={key}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "Content-Security-Policy" not in response
