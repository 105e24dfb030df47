"""POST /webhooks/banq/<token>/payment-status/: store first, re-fetch, apply once."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from django.conf import settings

from banq.models import BanqPayment
from orders.models import Order
from orders.signals import order_paid
from tests.support.banq_api import (
    PAYMENT_ID,
    TRANSACTION_GUID,
    add_json,
    add_payment,
    add_transaction,
    api_calls,
    payment_payload,
    transaction_payload,
    webhook_notification_payload,
)
from tests.webhooks.support import GroupListener, order_with_attempt, post_event
from webhooks.models import WebhookEvent, WebhookRefusal
from webhooks.selectors import webhook_refusals_recent

pytestmark = pytest.mark.django_db

State = WebhookEvent.State


@pytest.fixture
def paid_signals():
    received = []

    def receiver(sender, order, **kwargs):
        received.append(order.pk)

    order_paid.connect(receiver)
    yield received
    order_paid.disconnect(receiver)


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks, run_tasks):
    """POST a webhook, run the after-commit side effects like a real request would, then what the
    worker does with the outbox (e-mails, signals)."""

    def _deliver(body=None, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_event(client, body, **kwargs)
        run_tasks()
        return response

    return _deliver


def test_the_request_itself_sends_no_e_mail_the_worker_does(
    banq_api, client, mailoutbox, run_tasks
):
    order, _ = order_with_attempt()
    add_payment(banq_api, completed_payment(order))

    response = post_event(client)

    assert response.json() == {"status": "processed"}
    assert mailoutbox == []
    assert run_tasks() >= 1
    assert len(mailoutbox) == 1


def completed_payment(order: Order, **kwargs):
    kwargs.setdefault("status", "completed")
    kwargs.setdefault("funds", order.total)
    kwargs.setdefault("external_order_code", order.number)
    return payment_payload(**kwargs)


def test_completed_payment_event_marks_the_order_paid(banq_api, deliver, mailoutbox, paid_signals):
    order, attempt = order_with_attempt()
    add_payment(banq_api, completed_payment(order))
    listener = GroupListener(order)

    response = deliver(webhook_notification_payload(event_id="evt-1"))

    assert response.status_code == 200
    assert response.json() == {"status": "processed"}
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.payment_reference == PAYMENT_ID
    event = WebhookEvent.objects.get()
    assert event.state == State.PROCESSED
    assert (event.action, event.resource_type, event.resource_id) == (
        "completed",
        "payment",
        PAYMENT_ID,
    )
    assert event.event_id == "evt-1"
    assert event.order_id == order.pk
    assert event.payment_id == attempt.pk
    assert event.processed_at is not None
    assert event.attempts == 1
    assert event.dedupe_key == f"payment:{PAYMENT_ID}:completed:completed"
    assert event.processed_key == event.dedupe_key
    assert json.loads(bytes(event.raw_body))["resourceId"] == PAYMENT_ID
    assert event.content_type == "application/json"
    assert len(mailoutbox) == 1
    assert order.number in mailoutbox[0].subject
    assert paid_signals == [order.pk]
    messages = listener.messages()
    assert len(messages) == 1
    assert messages[0]["type"] == "order.status"
    assert messages[0]["status"] == "paid"
    assert [c.request.url.rsplit("/", 1)[-1] for c in api_calls(banq_api)] == [PAYMENT_ID]


def test_the_same_event_twice_is_a_duplicate(banq_api, deliver, mailoutbox, paid_signals):
    order, _ = order_with_attempt()
    add_payment(banq_api, completed_payment(order))
    add_payment(banq_api, completed_payment(order))
    listener = GroupListener(order)
    body = webhook_notification_payload(event_id="evt-same")

    first = deliver(body)
    second = deliver(body)

    assert first.json() == {"status": "processed"}
    assert second.status_code == 200
    assert second.json() == {"status": "duplicate"}
    assert sorted(WebhookEvent.objects.values_list("state", flat=True)) == [
        "duplicate",
        "processed",
    ]
    assert WebhookEvent.objects.exclude(processed_key=None).count() == 1
    assert len(mailoutbox) == 1
    assert len(paid_signals) == 1
    assert len(listener.messages()) == 1


def test_resource_type_is_compared_case_insensitively(banq_api, deliver):
    order, _ = order_with_attempt()
    add_payment(banq_api, completed_payment(order))

    response = deliver(webhook_notification_payload(resource_type="PAYMENT", action="Completed"))

    assert response.json() == {"status": "processed"}


def test_transaction_event_before_payment_event(banq_api, deliver, mailoutbox):
    order, _ = order_with_attempt()
    add_transaction(banq_api, transaction_payload(external_order_code=order.number))
    add_payment(banq_api, completed_payment(order))
    add_payment(banq_api, completed_payment(order))

    tx = deliver(
        webhook_notification_payload(resource_type="Transaction", resource_id=TRANSACTION_GUID)
    )
    payment = deliver(webhook_notification_payload())

    assert tx.json() == {"status": "processed"}
    assert payment.json() == {"status": "duplicate"}
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert len(mailoutbox) == 1
    tx_event = WebhookEvent.objects.get(resource_type="transaction")
    assert tx_event.dedupe_key == f"transaction:{TRANSACTION_GUID}:completed:completed"


def test_transaction_without_payment_guid_is_found_by_order_code(banq_api, deliver):
    order, _ = order_with_attempt()
    tx = transaction_payload(external_order_code=order.number)
    del tx["data"]["paymentGuid"]
    add_transaction(banq_api, tx)
    add_payment(banq_api, completed_payment(order))

    response = deliver(
        webhook_notification_payload(resource_type="Transaction", resource_id=TRANSACTION_GUID)
    )

    assert response.json() == {"status": "processed"}


def test_event_before_the_order_exists_is_parked_unmatched(banq_api, deliver):
    add_payment(banq_api, payment_payload(status="completed", external_order_code="SF-LATER"))

    response = deliver()

    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["error"]["code"] == "order_not_found"
    event = WebhookEvent.objects.get()
    assert event.state == State.UNMATCHED
    assert "SF-LATER" in event.error
    assert event.processed_key is None


def test_payment_to_another_merchant_is_rejected(banq_api, deliver, mailoutbox):
    order, attempt = order_with_attempt()
    add_payment(
        banq_api,
        completed_payment(order, destination_guid="11111111-2222-4333-8444-555555555555"),
    )

    response = deliver()

    assert response.status_code == 200
    assert response.json() == {"status": "rejected"}
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.paid_at is None
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert list(order.flags.values_list("kind", flat=True)) == ["destination_mismatch"]
    assert attempt.status == BanqPayment.Status.REJECTED
    event = WebhookEvent.objects.get()
    assert event.state == State.REJECTED
    assert "Foreign destination" in event.error
    assert mailoutbox == []


def test_amount_off_by_one_cent_is_rejected(banq_api, deliver):
    order, attempt = order_with_attempt(total="19.99")
    add_payment(banq_api, completed_payment(order, funds=Decimal("20.00")))

    response = deliver()

    assert response.json() == {"status": "rejected"}
    order.refresh_from_db()
    assert order.paid_at is None
    assert list(order.flags.values_list("kind", flat=True)) == ["amount_mismatch"]
    event = WebhookEvent.objects.get()
    assert "Amount mismatch" in event.error
    attempt.refresh_from_db()
    assert "Amount mismatch" in attempt.verification_error


def test_unknown_order_is_recorded_unmatched(banq_api, deliver):
    add_payment(banq_api, payment_payload(status="completed", external_order_code="SF-UNKNOWN"))

    response = deliver()

    assert response.status_code == 503
    event = WebhookEvent.objects.get()
    assert event.state == State.UNMATCHED
    assert "No order matches" in event.error


def test_banq_5xx_keeps_the_event_pending_then_the_retry_succeeds(banq_api, deliver, settings):
    settings.BANQ_RETRIES = 0
    order, _ = order_with_attempt()
    add_json(banq_api, "GET", f"/payments/{PAYMENT_ID}", {"error": "down"}, status=502)
    add_payment(banq_api, completed_payment(order))

    first = deliver()

    assert first.status_code == 503
    assert first["Retry-After"] == "60"
    assert first.json()["error"]["code"] == "banq_unavailable"
    event = WebhookEvent.objects.get()
    assert event.state == State.PENDING
    assert "502" in event.error
    order.refresh_from_db()
    assert order.paid_at is None

    second = deliver()

    assert second.status_code == 200
    assert second.json() == {"status": "processed"}
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_banq_not_knowing_the_payment_is_rejected(banq_api, deliver):
    add_json(banq_api, "GET", f"/payments/{PAYMENT_ID}", {"error": "nope"}, status=404)

    response = deliver()

    assert response.json() == {"status": "rejected"}
    assert "does not know" in WebhookEvent.objects.get().error


def test_failed_payment_event_fails_the_order(banq_api, deliver, mailoutbox):
    order, attempt = order_with_attempt()
    add_payment(
        banq_api,
        completed_payment(order, status="failed", fail_reason="InsufficientBalance"),
    )

    response = deliver(webhook_notification_payload(action="failed"))

    assert response.json() == {"status": "processed"}
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.status == Order.Status.FAILED
    assert attempt.status == BanqPayment.Status.FAILED
    assert attempt.fail_reason == "InsufficientBalance"
    assert "InsufficientBalance" in WebhookEvent.objects.get().error
    assert mailoutbox == []


def test_failed_event_after_paid_does_nothing(banq_api, deliver):
    order, _ = order_with_attempt()
    add_payment(banq_api, completed_payment(order))
    add_payment(banq_api, completed_payment(order, status="failed", fail_reason="General Error"))
    deliver()

    response = deliver(webhook_notification_payload(action="failed"))

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_paid_after_cancellation(banq_api, deliver, mailoutbox):
    order, attempt = order_with_attempt(status=Order.Status.CANCELLED)
    add_payment(banq_api, completed_payment(order))

    response = deliver()

    assert response.json() == {"status": "processed"}
    order.refresh_from_db()
    attempt.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert list(order.flags.values_list("kind", flat=True)) == ["refund_due"]
    assert order.paid_at is not None
    assert attempt.status == BanqPayment.Status.COMPLETED


def test_not_completed_payment_is_ignored(banq_api, deliver):
    order, _ = order_with_attempt()
    add_payment(banq_api, completed_payment(order, status="created"))

    response = deliver()

    assert response.json() == {"status": "ignored"}
    order.refresh_from_db()
    assert order.paid_at is None
    assert "created" in WebhookEvent.objects.get().error


@pytest.mark.parametrize(
    "body",
    [
        {"action": "created", "resourceType": "Payment", "resourceId": PAYMENT_ID},
        {"action": "completed", "resourceType": "NftLink", "resourceId": PAYMENT_ID},
    ],
)
def test_unknown_action_or_resource_type_is_ignored_without_calling_banq(banq_api, deliver, body):
    response = deliver(body)

    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert WebhookEvent.objects.get().state == State.IGNORED
    assert api_calls(banq_api) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"   ", "empty"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (b"[1, 2, 3]", "not an object"),
        (b'"completed"', "not an object"),
        (b'{"action": "completed", "resourceType": "Payment"}', "resourceId"),
        (b'{"resourceType": "Payment", "resourceId": "x"}', "action"),
        (b'{"action": "completed", "resourceType": "Payment", "resourceId": "../x"}', "resourceId"),
    ],
)
def test_unreadable_bodies_answer_400_and_are_kept_invalid(client, body, reason):
    response = post_event(client, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"
    event = WebhookEvent.objects.get()
    assert event.state == State.INVALID
    assert reason in event.error
    assert bytes(event.raw_body) == body


def test_one_mebibyte_body_answers_413_and_keeps_a_truncated_invalid_event(client):
    body = b'{"action": "completed", "pad": "' + b"x" * (1024 * 1024) + b'"}'

    response = post_event(client, body)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    event = WebhookEvent.objects.get()
    assert event.state == State.INVALID
    assert event.body_truncated
    assert event.body_size >= 1024 * 1024
    assert len(bytes(event.raw_body)) <= 4096
    assert "too large" in event.error


def test_body_over_the_limit_without_content_length_is_refused(rf, settings):
    from webhooks.views import BanqWebhookView

    settings.WEBHOOK_MAX_BODY_BYTES = 100
    request = rf.post("/x", data=b"{" + b" " * 200 + b"}", content_type="application/json")
    del request.META["CONTENT_LENGTH"]

    response = BanqWebhookView.as_view()(request, token=settings.BANQ_WEBHOOK_TOKEN)

    assert response.status_code == 413
    assert WebhookEvent.objects.get().body_truncated


def test_any_content_type_is_accepted_when_the_body_is_json(banq_api, deliver):
    order, _ = order_with_attempt()
    add_payment(banq_api, completed_payment(order))

    response = deliver(content_type="text/plain; charset=latin-1")

    assert response.status_code == 200
    assert response.json() == {"status": "processed"}
    assert WebhookEvent.objects.get().content_type == "text/plain; charset=latin-1"


def test_form_encoded_content_type_with_json_body_is_processed(banq_api, deliver):
    order, _ = order_with_attempt()
    add_payment(banq_api, completed_payment(order))

    response = deliver(content_type="application/x-www-form-urlencoded")

    assert response.json() == {"status": "processed"}


def test_wrong_token_is_404_not_stored_counted_and_not_logged(client, caplog):
    wrong = "wrong-token-" + "a" * 20
    caplog.set_level(logging.DEBUG)

    response = post_event(client, token=wrong)
    post_event(client, token=wrong)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert WebhookEvent.objects.count() == 0
    refusal = WebhookRefusal.objects.get()
    assert refusal.count == 2
    assert refusal.last_remote_addr == "127.0.0.1"
    assert [r.count for r in webhook_refusals_recent(days=7)] == [2]
    assert "payment-status" in caplog.text
    assert wrong not in caplog.text
    assert settings.BANQ_WEBHOOK_TOKEN not in caplog.text


def test_empty_token_setting_refuses_everything(client, settings):
    settings.BANQ_WEBHOOK_TOKEN = ""
    response = post_event(client, token="anything")
    assert response.status_code == 404
    assert WebhookEvent.objects.count() == 0


def test_real_token_never_reaches_the_logs(client, caplog, banq_api):
    caplog.set_level(logging.DEBUG)
    add_json(banq_api, "GET", f"/payments/{PAYMENT_ID}", {"error": "x"}, status=500)
    settings_token = settings.BANQ_WEBHOOK_TOKEN

    post_event(client, b"{bad")
    post_event(client, b"x" * (settings.WEBHOOK_MAX_BODY_BYTES + 10))
    post_event(client)

    assert caplog.text
    assert settings_token not in caplog.text


def test_headers_kept_are_selected_and_never_credentials(client):
    post_event(
        client,
        b"{bad",
        HTTP_USER_AGENT="banq-webhooks/1.0",
        HTTP_X_BANQ_DELIVERY="d-1",
        HTTP_AUTHORIZATION="Bearer secret",
        HTTP_COOKIE="sessionid=abc",
        HTTP_X_FORWARDED_FOR="10.0.0.1",
    )

    headers = WebhookEvent.objects.get().headers
    assert headers["user-agent"] == "banq-webhooks/1.0"
    assert headers["x-banq-delivery"] == "d-1"
    assert headers["x-forwarded-for"] == "10.0.0.1"
    assert "authorization" not in headers
    assert "cookie" not in headers


def test_get_is_not_allowed(client):
    from tests.webhooks.support import webhook_url

    response = client.get(webhook_url())
    assert response.status_code == 405
    assert WebhookEvent.objects.count() == 0


def test_unexpected_error_answers_503_and_keeps_the_event_failed(banq_api, deliver, monkeypatch):
    order, _ = order_with_attempt()
    add_payment(banq_api, completed_payment(order))

    def boom(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("webhooks.services.payment_apply", boom)

    response = deliver()

    assert response.status_code == 503
    event = WebhookEvent.objects.get()
    assert event.state == State.FAILED
    assert "RuntimeError" in event.error
    order.refresh_from_db()
    assert order.paid_at is None


def test_url_without_the_trailing_slash_is_served_not_redirected(banq_api, client, settings):
    """banq's guide writes `.../payment-status`; a redirect would drop the POST body."""
    order, _ = order_with_attempt()
    add_payment(banq_api, completed_payment(order))
    url = f"/webhooks/banq/{settings.BANQ_WEBHOOK_TOKEN}/payment-status"

    response = client.post(
        url, data=json.dumps(webhook_notification_payload()), content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json() == {"status": "processed"}
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_no_retries_inside_the_request_the_worker_finishes_the_job(
    banq_api, client, settings, run_tasks
):
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    settings.BANQ_RETRIES = 3  # for background work; a webhook request never retries
    order, _ = order_with_attempt()
    add_json(banq_api, "GET", f"/payments/{PAYMENT_ID}", {"error": "down"}, status=502)
    add_payment(banq_api, completed_payment(order))

    response = post_event(client)

    assert response.status_code == 503
    assert len(api_calls(banq_api)) == 1  # one try, then banq is told to come back
    event = WebhookEvent.objects.get()
    assert event.state == State.PENDING
    retry = DBTaskResult.objects.get(task_path="webhooks.tasks.webhook_event_retry")
    assert retry.run_after > timezone.now()  # after a backoff, not at once
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())

    run_tasks()

    event.refresh_from_db()
    order.refresh_from_db()
    assert event.state == State.PROCESSED
    assert order.status == Order.Status.PAID
