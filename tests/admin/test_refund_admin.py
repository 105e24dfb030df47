"""The merchant records a refund on the order's admin page; the index's sums are net of refunds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from orders.admin_selectors import order_admin_summary
from orders.models import Order, Refund
from orders.services.refunds import order_refund_record
from tests.admin.conftest import ORDERS_URL, messages_of
from tests.factories import order_create

pytestmark = pytest.mark.django_db


def paid(total: str = "20.00") -> Order:
    return order_create(
        total=total, status=Order.Status.PAID, paid_at=timezone.now(), payment_reference="p-1"
    )


def refund_url(order: Order) -> str:
    return f"{ORDERS_URL}{order.pk}/refund/"


def test_the_order_page_links_to_the_refund_form_which_offers_the_payment(admin_client):
    order = paid()

    page = admin_client.get(f"{ORDERS_URL}{order.pk}/change/").content.decode()
    form = admin_client.get(refund_url(order))

    assert refund_url(order) in page
    assert "Nothing refunded" in page
    assert form.status_code == 200
    html = form.content.decode()
    assert "The order&#x27;s payment ($20.00, p-1): $20.00 left to refund" in html
    assert 'value="20.00"' in html  # the whole payment is offered by default


def test_recording_a_refund_in_the_admin(admin_client, mailoutbox, run_tasks):
    order = paid()

    response = admin_client.post(
        refund_url(order), {"payment": "order", "amount": "7.50", "reason": "Late delivery"}
    )
    run_tasks()

    assert response.status_code == 302
    assert response["Location"] == f"{ORDERS_URL}{order.pk}/change/"
    refund = Refund.objects.get(order=order)
    assert (refund.amount, refund.reason, refund.recorded_by) == (
        Decimal("7.50"),
        "Late delivery",
        "admin",
    )
    assert any("Refund of $7.50 recorded" in m for m in messages_of(response))
    assert len(mailoutbox) == 1
    page = admin_client.get(f"{ORDERS_URL}{order.pk}/change/").content.decode()
    assert "Partially refunded ($7.50)" in page
    assert "Late delivery" in page
    listing = admin_client.get(ORDERS_URL).content.decode()
    assert "Paid (partially refunded)" in listing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"payment": "order", "amount": "20.01", "reason": "x"}, "At most $20.00"),
        ({"payment": "order", "amount": "ten", "reason": "x"}, "Enter the amount"),
        ({"payment": "order", "amount": "-1", "reason": "x"}, "more than zero"),
        ({"payment": "order", "amount": "1", "reason": ""}, "This field is required"),
        ({"payment": "order", "amount": "1", "reason": "a\x00b"}, "Null characters"),
        ({"payment": "installment-999", "amount": "1", "reason": "x"}, "Select a valid choice"),
    ],
)
def test_a_refused_refund_shows_the_form_again_with_the_reason_and_stores_nothing(
    admin_client, data, message
):
    order = paid()

    response = admin_client.post(refund_url(order), data)

    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.refunded_total == 0


def test_an_unpaid_order_has_nothing_to_refund_in_the_admin(admin_client):
    order = order_create(total="20.00", status=Order.Status.AWAITING_PAYMENT)

    html = admin_client.get(refund_url(order)).content.decode()
    posted = admin_client.post(
        refund_url(order), {"payment": "order", "amount": "1", "reason": "x"}
    )

    assert "Nothing is left to refund" in html
    assert posted.status_code == 400
    assert not Refund.objects.exists()


def test_a_staff_member_who_may_only_view_orders_cannot_record_a_refund(client, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)
    order = paid()

    response = client.post(refund_url(order), {"payment": "order", "amount": "1", "reason": "x"})

    assert response.status_code == 403
    assert not Refund.objects.exists()


def test_the_index_sums_are_net_of_the_refunds_recorded_in_the_period(admin_client):
    now = timezone.now()
    order = paid("10.10")
    paid("0.20")
    order_refund_record(order=order, amount="2.00", reason="broken", actor="m")

    summary = order_admin_summary(now=now)
    html = admin_client.get("/admin/").content.decode()

    today = summary.paid_today.totals[0]
    assert (today.total, today.refunded, today.net) == (
        Decimal("10.30"),
        Decimal("2.00"),
        Decimal("8.30"),
    )
    assert summary.paid_today.count == 2
    assert summary.paid_week.totals[0].net == Decimal("8.30")
    assert "2 · $8.30 net ($10.30 received, $2.00 refunded)" in html
    assert summary.installments_today.totals == []  # a refund of an order's payment only
