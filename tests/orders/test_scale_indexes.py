"""The queries that must stay fast at a year of orders read their indexes (EXPLAIN), on a table
of closed orders (seeded) with a few open ones: the expiry's and the sweep's work is found
through the partial indexes on the open states, whatever the number of closed orders; the
admin's filters and search read theirs.

The plans are checked on the database the suite runs on: SQLite by default, PostgreSQL in CI's
PostgreSQL leg (``DATABASE_URL``), where the trigram search indexes exist too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from banq.models import BanqPayment
from orders.admin import OrderAdmin
from orders.admin_selectors import order_needs_attention_q, paid_since
from orders.models import ORDER_OPEN_STATUSES, Order
from orders.services import PAYABLE, order_stale_q
from storefront.management.seed import seed_orders

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"
# SQLite can't use a partial index whose condition the query states with bound parameters
# (Django binds every value), and without STAT4 statistics it prefers the creation index for the
# list's order; these plans are checked in CI's PostgreSQL leg.
SQLITE_PLANNER = "SQLite's planner: partial indexes need literal conditions (checked on PostgreSQL)"


@pytest.fixture(scope="module")
def closed_orders(django_db_setup, django_db_blocker):
    """6,000 orders over a year, as a store leaves them: all closed but the last hour's."""
    with django_db_blocker.unblock():
        call_command("load_demo_catalog", verbosity=0)
        seed_orders(count=6000, days=365, seed=3)
        yield
        call_command("flush", interactive=False, verbosity=0)


def plan(queryset) -> str:
    return queryset.explain()


def usable_plan(queryset) -> str:
    """The plan when reading the whole table is ruled out: whether an index can serve the query
    at all (on a test-sized table reading it whole is cheaper; at a year of orders it is not)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


def test_the_open_statuses_of_the_partial_index_are_the_payable_ones():
    assert set(ORDER_OPEN_STATUSES) == set(PAYABLE)


@pytest.mark.skipif(not POSTGRES, reason=SQLITE_PLANNER)
def test_expiry_finds_its_orders_through_the_open_orders_index(closed_orders):
    candidates = Order.objects.filter(order_stale_q()).order_by("created_at", "pk")[:200]

    assert "order_open_created" in plan(candidates)


def test_sweep_finds_due_attempts_through_the_due_index(closed_orders):
    due = BanqPayment.objects.filter(next_check_at__lte=timezone.now()).order_by(
        "next_check_at", "pk"
    )[:5]

    assert "attempt_next_check" in plan(due)


@pytest.mark.skipif(not POSTGRES, reason=SQLITE_PLANNER)
def test_needs_attention_reads_no_whole_table(closed_orders):
    text = plan(Order.objects.filter(order_needs_attention_q()))

    assert "order_open_created" in text
    assert "Seq Scan on orders_order" not in text
    assert "SCAN orders_order" not in text.replace("USING", "\n")


def test_admin_status_filter_reads_the_status_index(closed_orders):
    page = Order.objects.filter(status="failed").order_by("-created_at", "-pk")[:51]

    assert "order_status_created" in plan(page)


@pytest.mark.skipif(not POSTGRES, reason=SQLITE_PLANNER)
def test_paid_this_week_reads_the_paid_index(closed_orders):
    week = Order.objects.filter(paid_at__gte=paid_since(period="week"))

    assert "order_paid_at" in plan(week)


def test_created_range_reads_the_creation_index(closed_orders):
    now = timezone.now()
    page = Order.objects.filter(
        created_at__gte=now - timedelta(days=120), created_at__lt=now - timedelta(days=110)
    ).order_by("-created_at", "-pk")[:51]

    assert "created_at" in plan(page)


@pytest.mark.skipif(not POSTGRES, reason="trigram indexes exist on PostgreSQL only (CI's leg)")
@pytest.mark.parametrize("field", OrderAdmin.search_fields)
def test_admin_search_reads_the_trigram_indexes(closed_orders, field):
    """Every field the admin's order search reads has its index: one without makes the search's
    OR read every order."""
    order = Order.objects.filter(status="paid").first()
    value = getattr(order, field)

    text = usable_plan(Order.objects.filter(**{f"{field}__icontains": value}).order_by())

    assert f"orders_order_{field}_trgm" in text


@pytest.mark.skipif(not POSTGRES, reason="trigram indexes exist on PostgreSQL only (CI's leg)")
def test_admin_search_in_attempts_reads_the_trigram_index(closed_orders):
    attempt = BanqPayment.objects.first()

    text = usable_plan(
        BanqPayment.objects.filter(banq_payment_id__icontains=attempt.banq_payment_id)
    )

    assert "banq_banqpayment_banq_payment_id_trgm" in text
