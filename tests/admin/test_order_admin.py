"""The order admin: list, filters, search, detail, actions; products; access."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from banq.models import BanqPayment
from orders.models import Order, OrderFlag, Product
from tests.admin.conftest import ORDERS_URL, full_order, messages_of
from tests.factories import order_create, product_create
from tests.support.banq_api import PAYMENT_ID, add_payment, payment_payload

pytestmark = pytest.mark.django_db


def _numbers(response) -> set[str]:
    return {o.number for o in response.context["cl"].result_list}


def test_changelist_shows_the_merchants_columns(admin_client):
    order = order_create(
        status=Order.Status.PAID,
        total="1250.00",
        paid_at=timezone.now(),
        payment_reference="pay-ref-123",
        email="buyer@example.com",
    )

    response = admin_client.get(ORDERS_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert order.number in html
    assert "buyer@example.com" in html
    assert "$1,250.00" in html
    assert "pay-ref-123" in html
    assert 'class="order-status order-status-paid"' in html


def test_changelist_query_count_does_not_grow_with_orders(
    admin_client, django_assert_max_num_queries
):
    for _ in range(2):
        full_order(payment_id="")
    with CaptureQueriesContext(connection) as few:
        admin_client.get(ORDERS_URL)
    for _ in range(15):
        full_order(payment_id="")

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(ORDERS_URL)

    assert len(response.context["cl"].result_list) == 17


def test_non_staff_user_is_sent_to_the_login(shopper_client):
    response = shopper_client.get(ORDERS_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_anonymous_user_is_sent_to_the_login(client):
    response = client.get(ORDERS_URL)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_orders_cannot_be_added_or_deleted(admin_client):
    order = order_create()

    assert admin_client.get(ORDERS_URL + "add/").status_code == 403
    assert admin_client.get(f"{ORDERS_URL}{order.pk}/delete/").status_code == 403


def test_detail_shows_lines_attempts_payload_escaped_and_events(admin_client):
    order, attempt, event = full_order()

    response = admin_client.get(f"{ORDERS_URL}{order.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Test item" in html  # the order line
    assert attempt.banq_payment_id in html
    assert "https://link.banq.com/4x1t09WiOjb" in html
    assert "&lt;script&gt;alert(" in html  # banq's payload, escaped
    assert "<script>alert(" not in html
    assert f"/admin/webhooks/webhookevent/{event.pk}/change/" in html
    assert 'class="webhook-state webhook-state-processed"' in html


def test_status_and_money_are_not_editable_in_the_form(admin_client):
    order = order_create(status=Order.Status.PENDING, total="10.00")
    url = f"{ORDERS_URL}{order.pk}/change/"

    response = admin_client.post(
        url,
        {
            "name": "New Name",
            "email": "new@example.com",
            "status": "paid",
            "total": "0.01",
            "items-TOTAL_FORMS": "0",
            "items-INITIAL_FORMS": "1",
            "banq_payments-TOTAL_FORMS": "0",
            "banq_payments-INITIAL_FORMS": "0",
            "webhook_events-TOTAL_FORMS": "0",
            "webhook_events-INITIAL_FORMS": "0",
            "flags-TOTAL_FORMS": "0",
            "flags-INITIAL_FORMS": "0",
            "history-TOTAL_FORMS": "0",
            "history-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    order.refresh_from_db()
    assert order.name == "New Name"
    assert order.status == Order.Status.PENDING
    assert order.total == Decimal("10.00")


@pytest.mark.parametrize("field", ["number", "email", "payment_reference", "attempt"])
def test_search(admin_client, field):
    order, attempt, _ = full_order(payment_id="attempt-pay-id-77", email="findme@example.com")
    Order.objects.filter(pk=order.pk).update(payment_reference="order-pay-ref-55")
    other = order_create()
    term = {
        "number": order.number,
        "email": "findme@example.com",
        "payment_reference": "order-pay-ref-55",
        "attempt": "attempt-pay-id-77",
    }[field]

    response = admin_client.get(ORDERS_URL, {"q": term})

    assert response.status_code == 200
    assert _numbers(response) == {order.number}
    assert other.number not in _numbers(response)


def test_status_filter(admin_client):
    paid = order_create(status=Order.Status.PAID, paid_at=timezone.now())
    order_create(status=Order.Status.PENDING)

    response = admin_client.get(ORDERS_URL, {"status__exact": "paid"})

    assert _numbers(response) == {paid.number}


def test_created_date_filter(admin_client):
    recent = order_create()
    old = order_create()
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)

    response = admin_client.get(
        ORDERS_URL,
        {
            "created_at__gte": str(today - timedelta(days=7)),
            "created_at__lt": str(today + timedelta(days=1)),
        },
    )

    assert response.status_code == 200
    assert _numbers(response) == {recent.number}


@pytest.mark.parametrize("reason", OrderFlag.Kind.values)
def test_needs_attention_filter_by_flag(admin_client, reason):
    flagged = order_create(flags=(reason,))
    other = "unknown_payment" if reason != "unknown_payment" else "refund_due"
    order_create(flags=(other,))
    order_create()
    handled = order_create(flags=(reason,))
    OrderFlag.objects.filter(order=handled).update(resolved_at=timezone.now())

    response = admin_client.get(ORDERS_URL, {"needs_attention": reason})

    assert _numbers(response) == {flagged.number}


def test_several_flags_stand_at_once(admin_client):
    order = order_create(flags=("amount_mismatch", "unknown_payment", "refund_due"))

    for reason in ("amount_mismatch", "unknown_payment", "refund_due", "any"):
        response = admin_client.get(ORDERS_URL, {"needs_attention": reason})
        assert _numbers(response) == {order.number}, reason
    page = admin_client.get(f"{ORDERS_URL}{order.pk}/change/").content.decode()
    assert "Amount mismatch" in page
    assert "Payment the store did not create" in page
    assert "Paid after cancellation: refund" in page


def test_a_shoppers_unconfirmed_payment_needs_attention_after_two_minutes(admin_client, settings):
    settings.ORDER_CLAIM_ATTENTION_MINUTES = 2
    waiting = order_create(status=Order.Status.AWAITING_PAYMENT)
    recent = order_create(status=Order.Status.AWAITING_PAYMENT)
    Order.objects.filter(pk=waiting.pk).update(
        payment_claimed_at=timezone.now() - timedelta(minutes=3)
    )
    Order.objects.filter(pk=recent.pk).update(payment_claimed_at=timezone.now())

    response = admin_client.get(ORDERS_URL, {"needs_attention": "unconfirmed_claim"})
    any_reason = admin_client.get(ORDERS_URL, {"needs_attention": "any"})

    assert _numbers(response) == {waiting.number}
    assert _numbers(any_reason) == {waiting.number}


def test_mark_flags_handled_keeps_them_on_record(admin_client):
    order = order_create(flags=("amount_mismatch", "unknown_payment"))

    response = admin_client.post(
        ORDERS_URL, {"action": "resolve_flags", "_selected_action": [order.pk]}, follow=True
    )

    assert "2 flag(s) marked as handled." in messages_of(response)
    assert order.flags.count() == 2
    assert not order.flags.filter(resolved_at__isnull=True).exists()
    assert set(order.flags.values_list("resolved_by", flat=True)) == {"admin"}
    assert order.history.filter(kind="flag_resolved", actor="admin").count() == 2
    any_reason = admin_client.get(ORDERS_URL, {"needs_attention": "any"})
    assert order.number not in _numbers(any_reason)


def test_needs_attention_pending_too_long_and_any(admin_client, settings):
    settings.ORDER_EXPIRY_MINUTES = 60
    stale = order_create(status=Order.Status.AWAITING_PAYMENT)
    Order.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(minutes=61))
    fresh = order_create(status=Order.Status.AWAITING_PAYMENT)
    old_paid = order_create(status=Order.Status.PAID, paid_at=timezone.now())
    Order.objects.filter(pk=old_paid.pk).update(created_at=timezone.now() - timedelta(days=2))
    flagged = order_create(flags=("amount_mismatch",))

    too_long = admin_client.get(ORDERS_URL, {"needs_attention": "pending_too_long"})
    any_reason = admin_client.get(ORDERS_URL, {"needs_attention": "any"})

    assert _numbers(too_long) == {stale.number}
    assert _numbers(any_reason) == {stale.number, flagged.number}
    assert fresh.number not in _numbers(any_reason)


def test_paid_filter_today_and_week(admin_client):
    now = timezone.now()
    today = order_create(status=Order.Status.PAID, paid_at=now)
    long_ago = order_create(status=Order.Status.PAID, paid_at=now - timedelta(days=30))

    response = admin_client.get(ORDERS_URL, {"paid": "today"})
    week = admin_client.get(ORDERS_URL, {"paid": "week"})

    assert _numbers(response) == {today.number}
    assert today.number in _numbers(week)
    assert long_ago.number not in _numbers(week)


# --- actions -------------------------------------------------------------------------------


def _action(admin_client, action: str, orders: list[Order]):
    return admin_client.post(
        ORDERS_URL,
        {"action": action, "_selected_action": [o.pk for o in orders]},
        follow=True,
    )


def test_cancel_action_cancels_where_allowed_and_skips_the_rest(admin_client):
    pending = order_create(status=Order.Status.PENDING)
    paid = order_create(status=Order.Status.PAID, paid_at=timezone.now())

    response = _action(admin_client, "cancel_orders", [pending, paid])

    assert response.status_code == 200
    pending.refresh_from_db()
    paid.refresh_from_db()
    assert pending.status == Order.Status.CANCELLED
    assert paid.status == Order.Status.PAID
    texts = " ".join(messages_of(response))
    assert f"Cancelled 1 order(s): {pending.number}" in texts
    assert "Skipped 1 order(s)" in texts
    assert paid.number in texts


def test_recheck_action_applies_banqs_answer(admin_client, banq_api):
    order, _, _ = full_order()
    add_payment(
        banq_api,
        payment_payload(status="completed", funds=order.total, external_order_code=order.number),
    )

    response = _action(admin_client, "recheck_with_banq", [order])

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.payment_reference == PAYMENT_ID
    assert f"{order.number} (banq payment {PAYMENT_ID}): paid." in messages_of(response)


def test_recheck_action_with_banq_down_shows_an_error_and_changes_nothing(admin_client, banq_api):
    order, _, _ = full_order()
    add_payment(banq_api, {"error": "down"}, payment_id=PAYMENT_ID, status=503)

    response = _action(admin_client, "recheck_with_banq", [order])

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    texts = " ".join(messages_of(response))
    assert "banq can't be reached right now" in texts
    assert settings.BANQ_PASSWORD not in response.content.decode()


def test_recheck_action_without_a_banq_payment_id(admin_client):
    order = order_create(status=Order.Status.AWAITING_PAYMENT)
    BanqPayment.objects.create(order=order, funds=order.total)

    response = _action(admin_client, "recheck_with_banq", [order])

    assert response.status_code == 200
    assert "no payment attempt with a banq payment id" in " ".join(messages_of(response))


def test_recheck_action_bad_credentials(admin_client, banq_api):
    order, _, _ = full_order()
    banq_api.replace(responses.POST, settings.BANQ_TOKEN_URL, json={"error": "x"}, status=401)

    response = _action(admin_client, "recheck_with_banq", [order])

    assert response.status_code == 200
    assert "banq refused the look-up" in " ".join(messages_of(response))


# --- products ------------------------------------------------------------------------------


def test_product_list_toggles_active_and_stock_inline(admin_client):
    product = product_create(price="5.00", stock=3)

    response = admin_client.post(
        "/admin/orders/product/",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(product.pk),
            "form-0-price": "6.50",
            "form-0-stock": "10",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.is_active is False  # the unchecked box
    assert product.stock == 10
    assert product.price == Decimal("6.50")


def test_product_add_page_prepopulates_the_slug(admin_client):
    response = admin_client.get("/admin/orders/product/add/")

    assert response.status_code == 200
    assert "prepopulated" in response.content.decode()
    created = admin_client.post(
        "/admin/orders/product/add/",
        {"name": "Mug", "slug": "mug", "price": "9.90", "currency": "USD", "is_active": "on"},
    )
    assert created.status_code == 302
    assert Product.objects.get(slug="mug").price == Decimal("9.90")
