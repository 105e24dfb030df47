"""The order list at a year of orders: no count of the whole table, a search through the payment
attempts without a join, plans counted per row shown."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from banq.models import BanqPayment
from storefront.admin_mixins import ApproximateCount, LargeTablePaginator
from tests.admin.conftest import ORDERS_URL, full_order
from tests.factories import order_create

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"


def counts(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if re.search(r"COUNT\(", q["sql"])]


def test_a_long_filtered_list_is_counted_up_to_the_cap(admin_client, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "CAP", 5)
    for _ in range(8):
        order_create(status="paid")
    order_create(status="expired")

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(ORDERS_URL, {"status__exact": "paid"})

    assert response.status_code == 200
    assert "more than 5 orders" in response.content.decode()
    assert len(response.context["cl"].result_list) == 8
    (count,) = counts(captured)
    assert "LIMIT 6" in count


def test_a_short_list_is_counted_exactly(admin_client):
    for _ in range(3):
        order_create(status="paid")
    order_create(status="expired")

    response = admin_client.get(ORDERS_URL, {"status__exact": "paid"})

    assert response.context["cl"].result_count == 3
    assert "3 orders" in response.content.decode()


def test_the_whole_list_is_never_counted_row_by_row(admin_client, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "CAP", 5)
    for _ in range(8):
        order_create(status="paid")
    if POSTGRES:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE orders_order")

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(ORDERS_URL)

    text = response.content.decode()
    if POSTGRES:  # the planner's estimate of the table
        assert "about 8 orders" in text
        assert counts(captured) == []
    else:
        assert "more than 5 orders" in text
        assert all("LIMIT" in sql for sql in counts(captured))


def test_an_approximate_count_pages_like_its_number():
    count = ApproximateCount(1_000_000, "about 1,000,000")

    assert str(count) == "about 1,000,000"
    assert count // 50 == 20_000
    assert count > 50


def test_search_by_an_attempts_banq_id_finds_its_order_once(admin_client):
    order, attempt, _ = full_order(payment_id="0af3c2e4-aaaa-4bbb-8ccc-000000000001")
    BanqPayment.objects.create(
        order=order,
        banq_payment_id="0af3c2e4-aaaa-4bbb-8ccc-000000000002",
        funds=attempt.funds,
    )
    full_order(payment_id="ffffffff-aaaa-4bbb-8ccc-000000000003", email="other@example.com")

    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(ORDERS_URL, {"q": "0af3c2e4-aaaa"})

    assert [o.pk for o in response.context["cl"].result_list] == [order.pk]
    assert not any("DISTINCT" in q["sql"] for q in captured.captured_queries)


def test_search_by_number_and_e_mail_words(admin_client):
    order = order_create(email="ada@example.com", number="SF-261206-ABCDE")
    order_create(email="ada@example.org", number="SF-261206-FGHJK")

    both = admin_client.get(ORDERS_URL, {"q": "ABCDE ada@"}).context["cl"].result_list
    quoted = admin_client.get(ORDERS_URL, {"q": '"ada@example.com"'}).context["cl"].result_list

    assert [o.pk for o in both] == [order.pk]
    assert [o.pk for o in quoted] == [order.pk]
