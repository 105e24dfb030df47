"""storefront.writes: several writes, one statement on PostgreSQL, the same rows everywhere."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from orders.models import Order, OrderEvent, OrderFlag
from storefront import writes
from tests.factories import order_create

pytestmark = pytest.mark.django_db

ON_POSTGRES = connection.vendor == "postgresql"


def _line(order: Order, message: str) -> OrderEvent:
    return OrderEvent(order=order, kind=OrderEvent.Kind.STATUS, source="admin", message=message)


def test_an_update_and_an_insert_land_with_their_counts_and_the_new_key(
    django_assert_num_queries,
):
    order = order_create(status=Order.Status.PENDING)
    other = order_create(status=Order.Status.PENDING)
    line = _line(order, "moved")
    changed = writes.update(Order.objects.filter(pk=order.pk), status=Order.Status.CANCELLED)
    nothing = writes.update(Order.objects.filter(pk=-1), status=Order.Status.CANCELLED)
    added = writes.insert(line)

    with django_assert_num_queries(1 if ON_POSTGRES else 3):
        writes.send(changed, nothing, added)

    assert (changed.rows, nothing.rows, added.rows) == (1, 0, 1)
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    assert Order.objects.get(pk=other.pk).status == Order.Status.PENDING
    assert line.pk is not None
    assert not line._state.adding
    stored = OrderEvent.objects.get(pk=line.pk)
    assert stored.message == "moved"
    assert stored.order_id == order.pk
    # The field's own pre_save ran: auto_now_add set the time.
    assert abs((stored.at - timezone.now()).total_seconds()) < 60


def test_several_inserts_each_get_their_own_key():
    order = order_create()
    lines = [_line(order, f"line {n}") for n in range(3)]
    writes.send(*(writes.insert(line) for line in lines))
    assert [OrderEvent.objects.get(pk=line.pk).message for line in lines] == [
        "line 0",
        "line 1",
        "line 2",
    ]


def test_a_failing_write_keeps_none_of_them():
    order = order_create(status=Order.Status.PENDING)
    OrderFlag.objects.create(order=order, kind="refund_due", note="first", reference="pay-1")
    duplicate = OrderFlag(order=order, kind="refund_due", note="again", reference="pay-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        writes.send(
            writes.update(Order.objects.filter(pk=order.pk), status=Order.Status.CANCELLED),
            writes.insert(_line(order, "lost")),
            writes.insert(duplicate),
        )

    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING
    assert not OrderEvent.objects.filter(message="lost").exists()
    assert OrderFlag.objects.filter(order=order).count() == 1


def test_nothing_to_send_sends_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        writes.send()
