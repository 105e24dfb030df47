"""``manage.py readiness``: /readyz's checks from a shell (a container's health check), and one
worker's own heartbeat."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from storefront.models import PeriodicSlot, WorkerHeartbeat

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("readiness", *args, stdout=out)
    return out.getvalue()


def test_the_checks_pass_with_a_worker_and_print_as_readyz_does():
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="w1", started_at=now, seen_at=now)
    PeriodicSlot.objects.create(name="banq.tasks.banq_sweep", next_run_at=now, last_enqueued_at=now)

    body = json.loads(run())

    assert body["status"] == "ok"
    assert len(body["checks"]) == 7


def test_a_failing_check_exits_1_naming_it():
    with pytest.raises(CommandError, match=r"Not ready: worker\.") as raised:
        run("--only", "database", "worker")

    assert raised.value.returncode == 1


def test_an_unknown_check_is_an_error():
    with pytest.raises(CommandError, match="Unknown check"):
        run("--only", "redis-cluster")


def test_one_workers_heartbeat(settings):
    settings.WORKER_LEASE_SECONDS = 60
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="box-1", started_at=now, seen_at=now)
    WorkerHeartbeat.objects.create(
        worker_id="box-2", started_at=now, seen_at=now - timedelta(seconds=90)
    )

    assert run("--worker", "box-1").startswith("Worker box-1: last heartbeat")
    with pytest.raises(CommandError, match="has not beaten for 90 s"):
        run("--worker", "box-2")
    with pytest.raises(CommandError, match="is not running"):
        run("--worker", "box-3")
