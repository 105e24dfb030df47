"""Helpers for webhook and settlement tests: orders with a banq attempt, posting events,
counting what was pushed to an order's Channels group."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.urls import reverse

from banq.models import BanqPayment
from orders.models import Order
from tests.factories import order_create
from tests.support.banq_api import PAYMENT_ID, webhook_notification_payload


def order_with_attempt(
    *,
    total: str = "19.99",
    status: str = Order.Status.AWAITING_PAYMENT,
    payment_id: str = PAYMENT_ID,
    attempt_status: str = BanqPayment.Status.CREATED,
    **order_fields: Any,
) -> tuple[Order, BanqPayment]:
    order = order_create(total=total, status=status, **order_fields)
    attempt = BanqPayment.objects.create(
        order=order,
        banq_payment_id=payment_id,
        url="https://link.banq.com/4x1t09WiOjb",
        funds=Decimal(total),
        status=attempt_status,
    )
    return order, attempt


def webhook_url(token: str | None = None) -> str:
    return reverse("webhooks:banq", kwargs={"token": token or settings.BANQ_WEBHOOK_TOKEN})


def post_event(client, body: Any = None, *, token: str | None = None, content_type=None, **kw):
    """POST a webhook; ``body`` may be a dict (JSON-encoded), str or bytes."""
    if body is None:
        body = webhook_notification_payload()
    if isinstance(body, dict | list):
        body = json.dumps(body)
    return client.post(
        webhook_url(token),
        data=body,
        content_type=content_type or "application/json",
        **kw,
    )


class GroupListener:
    """Joins an order's group on the in-memory channel layer and counts what arrives."""

    def __init__(self, order: Order) -> None:
        self.layer = get_channel_layer()
        self.group = f"order_{order.public_id.hex}"
        self.channel = async_to_sync(self.layer.new_channel)()
        async_to_sync(self.layer.group_add)(self.group, self.channel)

    def messages(self) -> list[dict]:
        queue = self.layer.channels.get(self.channel)
        found = []
        while queue is not None and not queue.empty():
            _, message = queue.get_nowait()
            found.append(message)
        return found
