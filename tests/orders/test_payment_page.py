"""The order page's payment block, the status endpoint, payment failure and order expiry."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from orders.access import order_access_key, session_grant_order
from orders.models import Order
from orders.moments import format_moment
from orders.services import (
    order_mark_paid,
    order_mark_payment_failed,
    order_set_status,
    orders_expire_stale,
)
from tests.factories import order_create

pytestmark = pytest.mark.django_db


def owner_client(order: Order) -> Client:
    client = Client()
    session = client.session
    session_grant_order(session=session, order=order)
    session.save()
    return client


def status_url(order: Order) -> str:
    return f"/orders/{order.public_id}/status"


# --- the page ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "extra", "widget_url"),
    [
        ("emulator", {}, "http://127.0.0.1:8001/widget/ecommerce.js"),
        ("sandbox", {}, "https://sandbox.banq.com/widget/ecommerce.js"),
        (
            "production",
            {"BANQ_WIDGET_URL": "https://cdn.banq.example/ecommerce.js"},
            "https://cdn.banq.example/ecommerce.js",
        ),
    ],
)
def test_order_page_embeds_the_widget_of_the_environment(
    monkeypatch, environment, extra, widget_url
):
    """Settings are built from the environment, so build them the way a deployment would."""
    import importlib

    import storefront.settings as settings_module

    monkeypatch.setenv("DJANGO_READ_DOT_ENV", "false")
    monkeypatch.setenv("BANQ_ENVIRONMENT", environment)
    for name in ("BANQ_WIDGET_URL", "BANQ_EMULATOR_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    fresh = importlib.reload(settings_module)
    try:
        assert widget_url == fresh.BANQ_WIDGET_URL
    finally:
        monkeypatch.undo()
        importlib.reload(settings_module)


def test_order_page_renders_the_widget_contract(settings):
    settings.BANQ_WIDGET_URL = "https://widget.example/ecommerce.js"
    order = order_create(status=Order.Status.PENDING, total="19.90")
    response = owner_client(order).get(order.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert '<script src="https://widget.example/ecommerce.js" nonce="' in html
    assert 'id="pay-with-banq"' in html
    assert f'data-order-id="{order.public_id}"' in html
    assert 'data-link-url="/generate-payment-link"' in html
    assert f'data-status-url="/orders/{order.public_id}/status"' in html
    assert f'data-ws-path="/ws/orders/{order.public_id}/"' in html
    assert 'aria-live="polite"' in html
    assert "<noscript>" in html
    assert "Refresh the status" in html
    # The CSRF token the page sends as X-CSRFToken is present and a cookie is set.
    assert 'data-csrf="' in html
    assert 'data-csrf=""' not in html
    assert "csrftoken" in response.cookies


def test_page_script_reads_the_link_from_data_data_url():
    """The page's getPaymentInfo must resolve to data.data.url, the seed's contract."""
    from pathlib import Path

    from django.conf import settings

    script = (Path(settings.BASE_DIR) / "static/banq/pay.js").read_text()
    assert "return data.data.url;" in script
    assert "JSON.stringify({ orderId: orderId })" in script
    assert '"X-CSRFToken": csrfToken' in script
    assert "new window.ecommerceBanqWidget(" in script
    assert "app.bootstrapApp()" in script
    assert "destroyWidget()" in script


def test_paid_order_page_shows_the_confirmation_and_no_widget(settings):
    order = order_create(status=Order.Status.AWAITING_PAYMENT, total="42.00")
    order_mark_paid(order=order, payment_reference="pay-abc-123", source="webhook")
    html = owner_client(order).get(order.get_absolute_url()).content.decode()
    assert "Payment confirmed." in html
    assert "pay-abc-123" in html
    assert settings.BANQ_WIDGET_URL not in html
    assert 'data-paid="true"' in html


def test_failed_payment_page_shows_the_reason_and_lets_the_shopper_retry():
    order = order_create(status=Order.Status.AWAITING_PAYMENT)
    order_mark_payment_failed(order=order, reason="Your banq balance is too low.", source="webhook")
    html = owner_client(order).get(order.get_absolute_url()).content.decode()
    assert "The payment did not go through" in html
    assert "Your banq balance is too low." in html
    assert 'id="pay-with-banq"' in html


def test_stale_order_is_expired_when_its_page_is_opened():
    order = order_create(status=Order.Status.AWAITING_PAYMENT)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=5))
    html = owner_client(order).get(order.get_absolute_url()).content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert "This order expired before it was paid." in html


# --- the status endpoint ----------------------------------------------------------------------


def test_status_endpoint_for_the_owner():
    order = order_create(status=Order.Status.AWAITING_PAYMENT, total="19.90")
    response = owner_client(order).get(status_url(order))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["status"] == "awaiting_payment"
    assert body["paid"] is False
    assert body["order"] == str(order.public_id)
    assert body["number"] == order.number
    assert body["total"] == "19.90"


def test_status_endpoint_after_payment_carries_the_confirmation_facts():
    order = order_create(status=Order.Status.AWAITING_PAYMENT)
    order_mark_paid(order=order, payment_reference="pay-77", source="webhook")
    body = owner_client(order).get(status_url(order) + "/").json()
    assert body["status"] == "paid"
    assert body["paid"] is True
    assert body["payment_reference"] == "pay-77"
    assert body["paid_at"]


def test_status_endpoint_with_signed_key_and_for_strangers():
    order = order_create()
    stranger = Client()
    assert stranger.get(status_url(order)).status_code == 404
    forged = stranger.get(status_url(order) + "?key=abc:def")
    assert forged.status_code == 404
    assert forged.json()["error"]["code"] == "not_found"
    unknown = stranger.get("/orders/00000000-0000-0000-0000-000000000000/status")
    malformed = stranger.get("/orders/nope/status")
    assert unknown.json() == forged.json() == malformed.json()
    signed = stranger.get(status_url(order) + f"?key={order_access_key(order=order)}")
    assert signed.status_code == 200
    assert signed.json()["status"] == "pending"


# --- failure and expiry services ------------------------------------------------------------


def test_payment_failure_moves_awaiting_to_failed_with_the_reason(mailoutbox):
    order = order_create(status=Order.Status.AWAITING_PAYMENT)
    order, changed = order_mark_payment_failed(
        order=order, reason="Declined by your bank.", source="webhook"
    )
    assert changed is True
    order.refresh_from_db()
    assert order.status == Order.Status.FAILED
    assert order.payment_error == "Declined by your bank."
    assert mailoutbox == []
    # A new attempt clears the old reason.
    order_set_status(order=order, status=Order.Status.AWAITING_PAYMENT, source="shopper")
    order.refresh_from_db()
    assert order.payment_error == ""


def test_payment_failure_never_moves_a_paid_order_back():
    order = order_create(status=Order.Status.AWAITING_PAYMENT)
    order_mark_paid(order=order, payment_reference="pay-1", source="webhook")
    _, changed = order_mark_payment_failed(order=order, reason="late failure", source="webhook")
    order.refresh_from_db()
    assert changed is False
    assert order.status == Order.Status.PAID
    assert order.payment_error == ""


def test_expire_orders_command_expires_only_stale_unpaid_orders():
    old = timezone.now() - timedelta(hours=2)
    stale_pending = order_create(status=Order.Status.PENDING)
    stale_awaiting = order_create(status=Order.Status.AWAITING_PAYMENT)
    stale_paid = order_create(status=Order.Status.PAID, paid_at=old, payment_reference="p")
    stale_failed = order_create(status=Order.Status.FAILED)
    fresh = order_create(status=Order.Status.AWAITING_PAYMENT)
    Order.objects.exclude(pk=fresh.pk).update(created_at=old)

    from io import StringIO

    out = StringIO()
    call_command("expire_orders", stdout=out)
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses[stale_pending.pk] == Order.Status.EXPIRED
    assert statuses[stale_awaiting.pk] == Order.Status.EXPIRED
    assert statuses[stale_paid.pk] == Order.Status.PAID
    assert statuses[stale_failed.pk] == Order.Status.EXPIRED  # failed orders time out too
    assert statuses[fresh.pk] == Order.Status.AWAITING_PAYMENT
    assert "3 order(s) expired." in out.getvalue()

    again = StringIO()
    call_command("expire_orders", stdout=again)
    assert "0 order(s) expired." in again.getvalue()


def test_expire_orders_dry_run_changes_nothing_and_older_than_overrides():
    order = order_create(status=Order.Status.PENDING)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    from io import StringIO

    out = StringIO()
    call_command("expire_orders", "--older-than", "5", "--dry-run", stdout=out)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert "would expire" in out.getvalue()
    assert orders_expire_stale(minutes=30) == []
    assert [o.pk for o in orders_expire_stale(minutes=5)] == [order.pk]


def test_a_payment_after_expiry_makes_the_order_paid():
    order = order_create(status=Order.Status.AWAITING_PAYMENT)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=2))
    orders_expire_stale()
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    order_mark_paid(order=order, payment_reference="pay-late", source="webhook")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.paid_at is not None
    assert not order.flags.exists()
    assert Decimal(order.total) == Decimal("19.90")
    html = owner_client(order).get(order.get_absolute_url()).content.decode()
    assert "Payment confirmed." in html
    assert '<div data-when="expired" hidden>' in html


def test_a_signed_key_visit_writes_nothing_when_it_grants_nothing_new():
    from django.contrib.sessions.models import Session

    order = order_create()
    key = order_access_key(order=order)
    visitor = Client()

    for _ in range(3):  # the page polling its status with the key, no cookie
        assert visitor.get(status_url(order) + f"?key={key}").status_code == 200
    assert Session.objects.count() == 0

    visitor.get(order.get_absolute_url() + f"?key={key}")  # the page grants its session once
    assert Session.objects.count() == 1
    saved = Session.objects.get().expire_date
    visitor.get(order.get_absolute_url() + f"?key={key}")
    assert Session.objects.get().expire_date == saved  # nothing new granted: not written again


# --- how a moment is written --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "words"),
    [("UTC", "6 Dec 2026, 06:32 UTC"), ("Europe/Berlin", "6 Dec 2026, 07:32 CET")],
)
def test_paid_at_is_the_same_words_on_the_page_and_in_the_status_json(settings, zone, words):
    settings.TIME_ZONE = zone
    paid_at = datetime(2026, 12, 6, 6, 32, 10, tzinfo=UTC)
    order = order_create(status=Order.Status.AWAITING_PAYMENT)
    order_mark_paid(order=order, payment_reference="pay-at", source="webhook")
    Order.objects.filter(pk=order.pk).update(paid_at=paid_at, created_at=paid_at)
    client = owner_client(order)

    body = client.get(status_url(order)).json()
    html = client.get(order.get_absolute_url()).content.decode()

    assert body["paid_at"] == "2026-12-06T06:32:10+00:00"  # programs keep ISO 8601
    assert body["paid_at_display"] == words
    assert f'datetime="{paid_at.astimezone(ZoneInfo(zone)).isoformat()}">{words}</time>' in html
    assert f"on {words}." in html  # "Placed by ... on": the same words, the zone named


def test_format_moment_of_nothing_is_empty():
    assert format_moment(None) == ""
