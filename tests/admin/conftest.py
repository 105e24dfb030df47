"""Admin test helpers: messages of a response, an order with an attempt and an event."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages

from banq.models import BanqPayment
from orders.models import Order
from tests.factories import order_create
from tests.support.banq_api import PAYMENT_ID, webhook_notification_payload
from webhooks.models import WebhookEvent

ORDERS_URL = "/admin/orders/order/"
EVENTS_URL = "/admin/webhooks/webhookevent/"


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def full_order(
    *, payment_id: str = PAYMENT_ID, **kwargs
) -> tuple[Order, BanqPayment, WebhookEvent]:
    """An awaiting order with one attempt carrying a hostile payload and one stored event."""
    kwargs.setdefault("status", Order.Status.AWAITING_PAYMENT)
    kwargs.setdefault("total", "19.99")
    order = order_create(**kwargs)
    attempt = BanqPayment.objects.create(
        order=order,
        banq_payment_id=payment_id,
        url="https://link.banq.com/4x1t09WiOjb",
        funds=Decimal(kwargs["total"]),
        banq_status="created",
        fail_reason="",
        last_payload={"id": payment_id, "comment": "<script>alert('x')</script>"},
    )
    body = json.dumps(webhook_notification_payload(resource_id=payment_id)).encode()
    event = WebhookEvent.objects.create(
        raw_body=body,
        body_size=len(body),
        state=WebhookEvent.State.PROCESSED,
        action="completed",
        resource_type="payment",
        resource_id=payment_id,
        order=order,
        payment=attempt,
        headers={"user-agent": "banq-webhooks/1.0"},
    )
    return order, attempt, event


@pytest.fixture
def shopper_client(client, db):
    user = get_user_model().objects.create_user("shopper", "s@example.com", "pw-shopper-1")
    client.force_login(user)
    return client
