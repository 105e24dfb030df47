"""The webhook event admin: list, filters, search, escaped detail, the Reprocess action."""

from __future__ import annotations

import json

import pytest

from orders.models import Order
from tests.admin.conftest import EVENTS_URL, full_order, messages_of
from tests.factories import order_create
from tests.support.banq_api import (
    PAYMENT_ID,
    add_payment,
    payment_payload,
    webhook_notification_payload,
)
from webhooks.models import WebhookEvent
from webhooks.services import webhook_event_record

pytestmark = pytest.mark.django_db

State = WebhookEvent.State


def _event(**fields) -> WebhookEvent:
    body = fields.pop("body", b"{}")
    return WebhookEvent.objects.create(raw_body=body, body_size=len(body), **fields)


def _pks(response) -> set[int]:
    return {e.pk for e in response.context["cl"].result_list}


def test_changelist_columns_state_with_reason_and_order_link(admin_client):
    order, _, processed = full_order()
    rejected = _event(
        state=State.REJECTED,
        action="completed",
        resource_type="payment",
        resource_id="pay-rej-1",
        error="Amount mismatch: banq reports 1.00",
    )

    response = admin_client.get(EVENTS_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert f"/admin/orders/order/{order.pk}/change/" in html
    assert "webhook-state-rejected" in html
    assert "Amount mismatch: banq reports 1.00" in html
    assert {processed.pk, rejected.pk} <= _pks(response)


def test_changelist_query_count_is_constant(admin_client, django_assert_max_num_queries):
    full_order(payment_id="p-1")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        admin_client.get(EVENTS_URL)
    for n in range(10):
        full_order(payment_id=f"p-more-{n}")

    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(EVENTS_URL)


def test_filters_by_state_and_resource_type(admin_client):
    pending = _event(state=State.PENDING, resource_type="payment")
    txn = _event(state=State.PROCESSED, resource_type="transaction")

    by_state = admin_client.get(EVENTS_URL, {"state__exact": "pending"})
    by_type = admin_client.get(EVENTS_URL, {"resource_type": "transaction"})

    assert _pks(by_state) == {pending.pk}
    assert _pks(by_type) == {txn.pk}


def test_search_by_resource_id_and_order_number(admin_client):
    order, _, event = full_order(payment_id="searchable-pay-id")
    _event(state=State.PENDING, resource_id="other-id")

    by_id = admin_client.get(EVENTS_URL, {"q": "searchable-pay-id"})
    by_number = admin_client.get(EVENTS_URL, {"q": order.number})

    assert _pks(by_id) == {event.pk}
    assert _pks(by_number) == {event.pk}


def test_detail_pretty_prints_json_and_escapes_it(admin_client):
    body = json.dumps({"action": "<img src=x onerror=alert(1)>", "resourceId": "r1"}).encode()
    event = _event(state=State.INVALID, body=body, error="<b>bad</b>", headers={"x-banq": "<i>"})

    response = admin_client.get(f"{EVENTS_URL}{event.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '"resourceId": "r1"' in html.replace("&quot;", '"')  # indented JSON
    assert "<b>bad</b>" not in html
    assert "<i>" not in html.split('class="banq-payload"', 1)[-1].split("</pre>", 1)[0]


def test_detail_shows_a_non_json_body_escaped(admin_client):
    event = _event(state=State.INVALID, body=b"not json <script>x</script>\xff")

    response = admin_client.get(f"{EVENTS_URL}{event.pk}/change/")

    html = response.content.decode()
    assert "not json &lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>x</script>" not in html


def test_events_are_read_only(admin_client):
    event = _event(state=State.PENDING)

    assert admin_client.get(EVENTS_URL + "add/").status_code == 403
    assert admin_client.get(f"{EVENTS_URL}{event.pk}/delete/").status_code == 403
    response = admin_client.post(f"{EVENTS_URL}{event.pk}/change/", {"state": "processed"})
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.state == State.PENDING


def test_non_staff_user_is_refused(shopper_client):
    response = shopper_client.get(EVENTS_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_reprocess_action_goes_through_the_webhook_service(admin_client, banq_api):
    order = order_create(status=Order.Status.AWAITING_PAYMENT, total="19.99")
    from banq.models import BanqPayment

    BanqPayment.objects.create(order=order, banq_payment_id=PAYMENT_ID, funds=order.total)
    event = webhook_event_record(body=json.dumps(webhook_notification_payload()).encode())
    WebhookEvent.objects.filter(pk=event.pk).update(state=State.PENDING)
    settled = _event(state=State.PROCESSED)
    add_payment(
        banq_api,
        payment_payload(status="completed", funds=order.total, external_order_code=order.number),
    )

    response = admin_client.post(
        EVENTS_URL,
        {"action": "reprocess", "_selected_action": [event.pk, settled.pk]},
        follow=True,
    )

    assert response.status_code == 200
    event.refresh_from_db()
    order.refresh_from_db()
    assert event.state == State.PROCESSED
    assert event.order_id == order.pk
    assert order.status == Order.Status.PAID
    texts = " ".join(messages_of(response))
    assert f"#{event.pk}: pending -> processed" in texts
    assert f"#{settled.pk} (processed)" in texts


def test_reprocess_with_banq_down_keeps_the_event_pending(admin_client, banq_api):
    event = webhook_event_record(body=json.dumps(webhook_notification_payload()).encode())
    add_payment(banq_api, {"error": "down"}, payment_id=PAYMENT_ID, status=503)

    response = admin_client.post(
        EVENTS_URL, {"action": "reprocess", "_selected_action": [event.pk]}, follow=True
    )

    assert response.status_code == 200
    event.refresh_from_db()
    assert event.state == State.PENDING
    assert "still pending" in " ".join(messages_of(response))
