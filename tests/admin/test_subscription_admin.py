"""Recurring plans in the admin: each subscription's schedule, installments paid and failed, the
next expected date; missed and failed installments need attention."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from banq.payloads import parse_payment
from banq.settlement import payment_apply
from orders.models import Order, Subscription
from orders.plans import day_words
from orders.services import subscription_installment_missed
from tests.admin.conftest import ORDERS_URL
from tests.banq.test_installments import item, payment, plan_order

pytestmark = pytest.mark.django_db

SUBSCRIPTIONS_URL = "/admin/orders/subscription/"


def a_plan_with_history() -> tuple[Order, Subscription]:
    """Paid, installment 2 failed, installment 3 paid, installment 4 missed."""
    key = uuid.uuid4().hex[:8]  # banq's ids are unique: one payment and transactions per plan
    paid_by = f"{key}-6c1e-4d0f-9a51-2f8e4c1d9b10"
    order, subscription = plan_order(payment_id=paid_by)
    guids = [f"{key}-7a1c-{n}" for n in range(3)]
    failed = item(
        subscription, 1, guid=guids[1], status="failed", fail_reason="InsufficientBalance"
    )
    charges = [item(subscription, 0, guid=guids[0]), failed, item(subscription, 2, guid=guids[2])]
    remote = parse_payment(payment(order, subscription, *charges, payment_id=paid_by))
    payment_apply(remote=remote, source="webhook")
    subscription.refresh_from_db()
    subscription_installment_missed(subscription=subscription, number=3, source="sweep")
    subscription.refresh_from_db()
    order.refresh_from_db()
    return order, subscription


def test_the_subscription_list_shows_state_next_date_paid_and_failed(admin_client):
    order, subscription = a_plan_with_history()

    response = admin_client.get(SUBSCRIPTIONS_URL)

    assert response.status_code == 200
    row = response.context["cl"].result_list[0]
    assert (row.paid, row.failed) == (2, 1)
    html = response.content.decode()
    assert order.number in html
    assert "$9.90" in html


def test_the_subscription_page_shows_the_whole_schedule(admin_client):
    order, subscription = a_plan_with_history()
    plan = subscription.plan

    html = admin_client.get(f"{SUBSCRIPTIONS_URL}{subscription.pk}/change/").content.decode()

    assert "$9.90 every month" in html
    first = subscription.installments.get(number=0)
    assert f"transaction {first.transaction_id}" in html
    assert "Your banq account doesn&#x27;t have enough balance" in html
    assert "(InsufficientBalance)" in html
    assert "missed: banq had no charge for it (flagged)" in html
    assert "expected next" in html
    assert day_words(plan.due(4)) in html
    assert day_words(plan.due(11)) in html  # the last of 12
    assert f"Next: payment 5 of 12, $9.90, expected on {day_words(plan.due(4))}" in html


def test_the_order_page_shows_its_plan_and_a_one_time_order_none(admin_client):
    order, subscription = a_plan_with_history()
    one_time, _ = plan_order()
    Order.objects.filter(pk=one_time.pk).update(recurring=False)

    html = admin_client.get(f"{ORDERS_URL}{order.pk}/change/").content.decode()
    other = admin_client.get(f"{ORDERS_URL}{one_time.pk}/change/").content.decode()

    assert "Recurring plan" in html
    assert "expected next" in html
    assert f"{SUBSCRIPTIONS_URL}{subscription.pk}/change/" in html
    assert "Recurring plan" not in other


def test_failed_and_missed_installments_need_attention(admin_client):
    order, _ = a_plan_with_history()

    for reason in ("installment_failed", "installment_missed", "any"):
        response = admin_client.get(ORDERS_URL, {"needs_attention": reason})
        assert [o.number for o in response.context["cl"].result_list] == [order.number], reason


def test_the_subscription_list_query_count_does_not_grow(
    admin_client, django_assert_max_num_queries
):
    a_plan_with_history()
    with CaptureQueriesContext(connection) as few:
        admin_client.get(SUBSCRIPTIONS_URL)
    for _ in range(5):
        a_plan_with_history()

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(SUBSCRIPTIONS_URL)
    assert len(response.context["cl"].result_list) == 6


def test_subscriptions_are_read_only(admin_client):
    _, subscription = a_plan_with_history()

    response = admin_client.post(
        f"{SUBSCRIPTIONS_URL}{subscription.pk}/change/", {"state": "ended"}
    )

    assert response.status_code == 403
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.ACTIVE
    assert admin_client.get(f"{SUBSCRIPTIONS_URL}add/").status_code == 403
    assert subscription.next_due_date == subscription.plan.due(4)
    assert subscription.next_due_date - subscription.start_date > timedelta(days=100)
