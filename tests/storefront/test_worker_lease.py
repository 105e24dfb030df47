"""Worker leases: the tasks of a worker that stopped beating go back to the queue; nobody
else's do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from orders.periodic import orders_expire
from storefront.models import PeriodicSlot, WorkerHeartbeat
from storefront.worker import (
    LEASE_SLOT,
    lease_check_due,
    tasks_requeue_dead,
    tasks_requeue_stale,
)

pytestmark = pytest.mark.django_db

RUNNING, READY = TaskResultStatus.RUNNING, TaskResultStatus.READY


def _running(*, worker_ids: list[str], started: float) -> DBTaskResult:
    """A task claimed ``started`` seconds ago by the last of ``worker_ids``."""
    result = orders_expire.enqueue()
    row = DBTaskResult.objects.get(pk=result.id)
    row.status = RUNNING
    row.started_at = timezone.now() - timedelta(seconds=started)
    row.worker_ids = worker_ids
    row.save()
    return row


def _beat(worker_id: str, *, ago: float) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id=worker_id,
        started_at=now - timedelta(hours=1),
        seen_at=now - timedelta(seconds=ago),
    )


def _status(row: DBTaskResult) -> str:
    row.refresh_from_db()
    return row.status


def test_the_task_of_a_worker_silent_for_the_lease_goes_back_to_the_queue(settings):
    settings.WORKER_LEASE_SECONDS = 60
    _beat("dead", ago=61)
    _beat("alive", ago=5)
    dead = _running(worker_ids=["dead"], started=120)
    gone = _running(worker_ids=["alive", "vanished"], started=120)  # the last claim counts
    alive = _running(worker_ids=["dead", "alive"], started=3600)  # a long task, still beating

    assert tasks_requeue_dead() == 2

    assert (_status(dead), _status(gone), _status(alive)) == (READY, READY, RUNNING)


def test_a_task_claimed_less_than_a_lease_ago_is_left_alone(settings):
    settings.WORKER_LEASE_SECONDS = 60
    fresh = _running(worker_ids=["starting"], started=10)  # its worker has not beaten yet

    assert tasks_requeue_dead() == 0
    assert _status(fresh) == RUNNING


def test_tasks_without_a_worker_id_keep_the_fifteen_minute_fallback():
    anonymous = _running(worker_ids=[], started=16 * 60)
    recent = _running(worker_ids=[], started=60)
    leased = _running(worker_ids=["alive-and-slow"], started=16 * 60)
    _beat("alive-and-slow", ago=1)

    assert tasks_requeue_dead() == 0
    assert tasks_requeue_stale() == 1

    assert (_status(anonymous), _status(recent), _status(leased)) == (READY, RUNNING, RUNNING)


def test_the_lease_check_runs_once_per_interval_across_workers(settings):
    settings.WORKER_LEASE_CHECK_SECONDS = 15
    dead = _running(worker_ids=["dead"], started=3600)

    assert lease_check_due() == 1  # this worker won the slot
    assert _status(dead) == READY
    dead = _running(worker_ids=["dead"], started=3600)
    assert lease_check_due() == 0  # not due again for 15 s, whichever worker looks
    assert _status(dead) == RUNNING
    slot = PeriodicSlot.objects.get(name=LEASE_SLOT)
    assert timedelta(seconds=14) < slot.next_run_at - timezone.now() <= timedelta(seconds=15)
