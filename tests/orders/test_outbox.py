"""orders.outbox: a task's row written with the change that causes it."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_tasks.signals import task_enqueued
from django_tasks_db.models import DBTaskResult

from orders.models import OrderEvent
from orders.outbox import outbox_writes
from orders.tasks import order_changed
from storefront import writes
from tests.factories import order_create

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = ("args_kwargs", "priority", "task_path", "queue_name", "run_after", "backend_name")


def test_the_written_row_is_the_row_enqueue_writes_and_the_signal_follows():
    """Sent with another write: one statement on PostgreSQL, where the row's time is set by
    django-tasks-db's pre_save receiver, not by a save()."""
    order = order_create()
    line = OrderEvent(order=order, kind=OrderEvent.Kind.STATUS, source="admin")
    heard = []

    def listener(sender, task_result, **kwargs):
        heard.append(task_result.id)

    task_enqueued.connect(listener)
    try:
        with transaction.atomic():
            enqueued = order_changed.enqueue(7, "pending", "paid", "paid")
            (write,) = outbox_writes(order_changed, 7, "pending", "paid", "paid")
            writes.send(write, writes.insert(line))
    finally:
        task_enqueued.disconnect(listener)

    theirs = DBTaskResult.objects.values(*FIELDS).get(id=enqueued.id)
    ours = DBTaskResult.objects.values(*FIELDS).get(id=write.obj.id)
    assert ours == theirs
    assert heard == [enqueued.id, str(write.obj.id)]


def test_a_rolled_back_change_leaves_no_task():
    before = DBTaskResult.objects.count()

    def change_that_fails() -> None:
        with transaction.atomic():
            writes.send(*outbox_writes(order_changed, 7, "pending", "paid", "paid"))
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()

    assert DBTaskResult.objects.count() == before
