"""The payment link of a recurring order: ``frequency``, ``startDate`` and ``endDate`` come from
the order's plan, never from the browser."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.utils import timezone

from banq.models import BanqPayment
from orders.models import Order
from tests.banq.test_views import owner_client, post
from tests.factories import membership_create, order_create, recurring_order_create
from tests.support.banq_api import add_paid_link, api_calls

pytestmark = pytest.mark.django_db


def _sent(banq_api) -> dict:
    (call,) = api_calls(banq_api)
    return json.loads(call.request.body, parse_float=Decimal)


def test_the_link_of_a_plan_carries_its_frequency_and_dates_from_the_order(banq_api):
    order = recurring_order_create(product=membership_create(price="9.90", periods=12))
    add_paid_link(banq_api)

    response = post(
        owner_client(order),
        {
            "orderId": str(order.public_id),
            "frequency": "weekly",  # what a tampered page might send: ignored
            "startDate": "2030-01-01",
            "endDate": None,
            "funds": 0.01,
        },
    )

    assert response.status_code == 200
    body = _sent(banq_api)
    plan = order.subscription.plan
    today = timezone.localdate()
    assert body["frequency"] == "monthly"
    assert body["startDate"] == today.isoformat()
    assert body["endDate"] == plan.last_due.isoformat()
    assert body["funds"] == Decimal("9.90")
    attempt = BanqPayment.objects.get(order=order)
    assert (attempt.frequency, attempt.start_date, attempt.end_date) == (
        "monthly",
        today,
        plan.last_due,
    )


def test_a_plan_without_an_end_sends_no_end_date(banq_api):
    order = recurring_order_create(product=membership_create(frequency="weekly", periods=None))
    add_paid_link(banq_api)

    post(owner_client(order), {"orderId": str(order.public_id)})

    body = _sent(banq_api)
    assert (body["frequency"], body["startDate"]) == ("weekly", timezone.localdate().isoformat())
    assert "endDate" not in body


def test_a_one_time_order_sends_once_and_no_dates(banq_api):
    order = order_create(total="19.99")
    add_paid_link(banq_api)

    post(owner_client(order), {"orderId": str(order.public_id), "frequency": "monthly"})

    body = _sent(banq_api)
    assert body["frequency"] == "once"
    assert "startDate" not in body
    assert "endDate" not in body


def test_a_frequency_banq_is_not_configured_for_is_refused_before_calling_banq(banq_api, settings):
    settings.BANQ_FREQUENCIES = ["once", "monthly"]
    order = recurring_order_create(product=membership_create(frequency="yearly", periods=3))

    response = post(owner_client(order), {"orderId": str(order.public_id)})

    assert response.status_code == 502
    assert api_calls(banq_api) == []
    assert BanqPayment.objects.filter(order=order).count() == 0
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
