"""The summary on the admin index: paid today/week, attention, waiting events, refused calls."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.admin_selectors import order_admin_summary
from orders.models import Installment, Order
from tests.factories import order_create, recurring_order_create
from webhooks.models import WebhookEvent, WebhookRefusal

pytestmark = pytest.mark.django_db


def _summary_html(response) -> str:
    html = response.content.decode()
    start = html.index('id="storefront-summary"')
    return html[start : html.index("</table>", start)]


def test_index_shows_the_shop_summary_with_links(admin_client):
    now = timezone.now()
    order_create(status=Order.Status.PAID, total="10.10", paid_at=now)
    order_create(status=Order.Status.PAID, total="0.20", paid_at=now)
    order_create(flags=("amount_mismatch",))
    WebhookEvent.objects.create(state=WebhookEvent.State.PENDING)
    WebhookEvent.objects.create(state=WebhookEvent.State.UNMATCHED)
    WebhookRefusal.objects.create(
        day=timezone.localdate(),
        count=4,
        banq_like=4,
        banq_like_last_at=timezone.now(),  # after the events above: nothing accepted since
        last_seen_at=now,
    )

    response = admin_client.get("/admin/")

    assert response.status_code == 200
    summary = _summary_html(response)
    assert "2 · $10.30" in summary  # paid today: count and exact sum
    assert "/admin/orders/order/?paid=today" in summary
    assert "/admin/orders/order/?paid=week" in summary
    assert "/admin/orders/order/?needs_attention=any" in summary
    assert "/admin/webhooks/webhookevent/?state__exact=pending" in summary
    assert "/admin/webhooks/webhookevent/?state__exact=unmatched" in summary
    assert "4 — banq seems to call a stale URL" in summary


def test_summary_links_open_lists_that_match_the_counts(admin_client):
    now = timezone.now()
    today = order_create(status=Order.Status.PAID, paid_at=now)
    order_create(status=Order.Status.PAID, paid_at=now - timedelta(days=40))
    flagged = order_create(flags=("duplicate_payment",))

    summary = order_admin_summary()
    paid_list = admin_client.get("/admin/orders/order/", {"paid": "today"})
    attention_list = admin_client.get("/admin/orders/order/", {"needs_attention": "any"})

    assert summary.paid_today.count == 1
    assert summary.paid_today.totals[0].total == Decimal(today.total)
    assert {o.number for o in paid_list.context["cl"].result_list} == {today.number}
    assert summary.needs_attention == 1
    assert {o.number for o in attention_list.context["cl"].result_list} == {flagged.number}


def test_summary_query_count_is_small_and_constant(admin_client, django_assert_max_num_queries):
    for _ in range(20):
        order_create(status=Order.Status.PAID, paid_at=timezone.now())

    # 13 for the summary and the page (needs-attention reads the flagged orders' keys first, then
    # counts by the open orders' index), 1 for the sales chart (tests/admin/test_sales_chart.py).
    with django_assert_max_num_queries(14), CaptureQueriesContext(connection) as twenty:
        response = admin_client.get("/admin/")

    assert "20 ·" in _summary_html(response)
    for days_ago in range(20):  # twice the orders, over the chart's month
        order_create(status=Order.Status.PAID, paid_at=timezone.now() - timedelta(days=days_ago))
    with CaptureQueriesContext(connection) as forty:
        admin_client.get("/admin/")
    assert len(forty) == len(twenty)


def test_refused_probes_are_counted_without_an_alarm(admin_client):
    WebhookRefusal.objects.create(
        day=timezone.localdate(), count=9, banq_like=0, last_seen_at=timezone.now()
    )

    summary = _summary_html(admin_client.get("/admin/"))

    assert "<td>9</td>" in summary
    assert "stale URL" not in summary


def test_installments_of_recurring_plans_count_as_money_received(admin_client):
    """The first payment of a plan is its order's; the later ones are counted beside the orders,
    each once, by banq's charge time, and the link opens the plans they belong to."""
    now = timezone.now()
    order_create(status=Order.Status.PAID, total="10.10", paid_at=now)
    plan_order = recurring_order_create()
    Order.objects.filter(pk=plan_order.pk).update(status=Order.Status.PAID, paid_at=now)
    subscription = plan_order.subscription
    other_order = recurring_order_create(email="other@example.com")
    Order.objects.filter(pk=other_order.pk).update(
        status=Order.Status.PAID, paid_at=now - timedelta(days=40)
    )

    def installment(subscription, number, status="paid", at=now, amount="9.90"):
        return Installment.objects.create(
            subscription=subscription,
            number=number,
            transaction_id=f"t-{subscription.pk}-{number}-{status}",
            status=status,
            amount=Decimal(amount),
            occurred_at=at,
        )

    installment(subscription, 0)  # the order's own first payment: already in "Paid today"
    installment(subscription, 1)
    installment(subscription, 2, status="failed")
    installment(other_order.subscription, 1, at=now - timedelta(days=40))  # long ago
    installment(other_order.subscription, 2, at=None)  # no charge time: counted as recorded

    summary = order_admin_summary(now=now)
    html = _summary_html(admin_client.get("/admin/"))
    received = admin_client.get("/admin/orders/subscription/", {"installment": "today"})

    assert (summary.paid_today.count, summary.paid_today.totals[0].total) == (2, Decimal("20.00"))
    assert summary.installments_today.count == 2
    assert summary.installments_today.totals[0].total == Decimal("19.80")
    assert "2 · $19.80" in html
    assert "/admin/orders/subscription/?installment=today" in html
    assert "/admin/orders/subscription/?installment=week" in html
    assert {s.pk for s in received.context["cl"].result_list} == {
        subscription.pk,
        other_order.subscription.pk,
    }
