"""The task worker's heartbeat: what a lease and the readiness check read."""

from datetime import timedelta

import pytest
from django.utils import timezone

from storefront.models import WorkerHeartbeat
from storefront.worker import (
    Heartbeat,
    worker_heartbeat_age,
    worker_heartbeat_beat,
    worker_heartbeat_forget,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.django_db


def test_no_worker_has_no_heartbeat_age():
    assert worker_heartbeat_age() is None


def test_a_beat_records_the_worker_and_moves_on_without_a_second_row():
    worker_heartbeat_beat(worker_id="w1")
    first = WorkerHeartbeat.objects.get(worker_id="w1")
    WorkerHeartbeat.objects.filter(pk=first.pk).update(
        seen_at=first.seen_at - timedelta(seconds=30)
    )

    worker_heartbeat_beat(worker_id="w1")

    again = WorkerHeartbeat.objects.get(worker_id="w1")
    assert WorkerHeartbeat.objects.count() == 1
    assert again.started_at == first.started_at
    assert again.seen_at > first.seen_at - timedelta(seconds=30)
    assert worker_heartbeat_age() < 5


def test_age_is_that_of_the_newest_worker():
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="old", started_at=now, seen_at=now - timedelta(seconds=90)
    )
    WorkerHeartbeat.objects.create(
        worker_id="new", started_at=now, seen_at=now - timedelta(seconds=20)
    )

    assert worker_heartbeat_age(now=now) == pytest.approx(20)


def test_a_clean_stop_forgets_the_worker():
    worker_heartbeat_beat(worker_id="w1")
    worker_heartbeat_forget(worker_id="w1")
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_until_stopped_then_removes_its_row(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 0.05
    thread = Heartbeat(worker_id="threaded")
    thread.start()
    wait_for(
        WorkerHeartbeat.objects.filter(worker_id="threaded").exists,
        timeout=5,
        interval=0.01,
        what="the thread recorded a heartbeat",
    )
    thread.stopping.set()
    thread.join(timeout=5)

    assert not thread.is_alive()
    assert not WorkerHeartbeat.objects.filter(worker_id="threaded").exists()
