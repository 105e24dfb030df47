"""Statements per path, among a few hundred seeded orders: the admin's list (its search and
filters), an order's admin page, the admin index, the status JSON, the webhook and the payment
link each send a fixed number, whatever the number of orders (docs/benchmarks.md, "At a year of
orders"). The bench's scale run measures the same at 1,000,000 orders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from orders.models import Order, OrderEvent, OrderFlag
from storefront.management.seed import seed_orders
from tests.banq.test_views import owner_client, post
from tests.support.banq_api import add_paid_link, add_payment, payment_payload
from tests.webhooks.support import order_with_attempt, post_event

pytestmark = pytest.mark.django_db

ORDERS_URL = "/admin/orders/order/"


@pytest.fixture
def seeded(db):
    call_command("load_demo_catalog", verbosity=0)
    seed_orders(count=400, days=30, seed=1)
    paid = Order.objects.filter(status="paid").order_by("-pk")
    OrderFlag.objects.create(order=paid[1], kind="refund_due", note="Paid after cancellation.")
    return paid.first()


def _list_urls(order: Order) -> dict[str, dict]:
    now = timezone.now()
    return {
        "default page": {},
        "search by number": {"q": order.number},
        "search by e-mail": {"q": order.email},
        "search by two words": {"q": f"{order.number} {order.email}"},
        "status": {"status__exact": "paid"},
        "created range": {
            "created_at__gte": str(now - timedelta(days=20)),
            "created_at__lt": str(now - timedelta(days=10)),
        },
        "needs attention": {"needs_attention": "any"},
        "a flag kind": {"needs_attention": "refund_due"},
        "paid this week": {"paid": "week"},
    }


# The session, the user, the second factor's two device tables; then the page's own: the count
# (capped, or the planner's estimate), the rows, the facets of a flag filter or one look-up per
# word of a search in the payment attempts.
ADMIN_LIST_MAX = 8


@pytest.mark.parametrize(
    "name", list(_list_urls(Order(number="x", email="y")).keys()), ids=lambda n: n
)
def test_admin_order_list_sends_a_fixed_number_of_statements(
    admin_client, seeded, django_assert_max_num_queries, name
):
    params = _list_urls(seeded)[name]
    admin_client.get(ORDERS_URL, params)

    with django_assert_max_num_queries(ADMIN_LIST_MAX) as captured:
        response = admin_client.get(ORDERS_URL, params)

    assert response.status_code == 200
    assert response.context["cl"].result_list
    # Never a count of the whole table: capped (LIMIT) or the planner's estimate.
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert all("LIMIT" in sql or "WHERE" in sql.upper() for sql in counts), counts


def test_admin_order_page_with_fifty_history_lines(
    admin_client, seeded, django_assert_max_num_queries
):
    OrderEvent.objects.bulk_create(
        OrderEvent(order=seeded, kind="recheck", source="sweep", message=f"check {n}")
        for n in range(50)
    )
    url = f"{ORDERS_URL}{seeded.pk}/change/"
    admin_client.get(url)

    # Session, user, two second-factor devices, the order, its lines, flags, history, payment
    # attempts, webhook events, refunds and the products of the inlines: 12 whatever its history.
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)

    assert response.status_code == 200
    assert response.content.decode().count("check 4") >= 11  # check 4, check 40..49


def test_admin_index(admin_client, seeded, django_assert_max_num_queries):
    admin_client.get("/admin/")

    # Session, user and two second-factor devices; orders' and installments' sums, the
    # needs-attention count (one union of the flagged and the open orders), refunds, three webhook
    # figures, the sales chart's one query and the recent actions: 13.
    with django_assert_max_num_queries(13):
        response = admin_client.get("/admin/")

    assert response.status_code == 200


def test_admin_subscriptions_list(admin_client, seeded, django_assert_max_num_queries):
    admin_client.get("/admin/orders/subscription/")

    with django_assert_max_num_queries(7):
        response = admin_client.get("/admin/orders/subscription/")

    assert response.status_code == 200
    assert response.context["cl"].result_list


def test_order_status_json(client, seeded, django_assert_max_num_queries):
    url = f"{seeded.get_absolute_url()}status"
    owner = owner_client(seeded)
    owner.get(url)

    with django_assert_max_num_queries(2):
        response = owner.get(url)

    assert response.status_code == 200
    assert response.json()["status"] == "paid"


# The webhook and the link, savepoints of the test's transaction included. On PostgreSQL the
# attempt's, the order's, its history line's and the outbox task's writes are one statement
# (storefront.writes): webhook 4 statements and 2 savepoints, link 5 and 4, and the session's
# row when sessions are not in Redis.
ON_POSTGRES = connection.vendor == "postgresql"
SESSION_READ = 0 if settings.SESSION_ENGINE.endswith("cached_db") else 1
WEBHOOK_MAX = 6 if ON_POSTGRES else 9
LINK_MAX = (9 if ON_POSTGRES else 11) + SESSION_READ


def test_webhook(client, seeded, banq_api, django_assert_max_num_queries):
    order, _ = order_with_attempt()
    add_payment(
        banq_api,
        payment_payload(status="completed", funds=order.total, external_order_code=order.number),
    )

    with django_assert_max_num_queries(WEBHOOK_MAX):
        response = post_event(client)

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_payment_link(seeded, banq_api, django_assert_max_num_queries):
    order = Order.objects.filter(status="pending").first() or seeded
    Order.objects.filter(pk=order.pk).update(
        status="pending", paid_at=None, created_at=timezone.now()
    )
    order.refresh_from_db()
    owner = owner_client(order)
    add_paid_link(banq_api)

    with django_assert_max_num_queries(LINK_MAX):
        response = post(owner, {"orderId": str(order.public_id)})

    assert response.status_code == 200, response.content
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
