"""GET /healthz and GET /readyz: alive without the database; ready names each check, and 503
names the one that fails; floods cost one round of checks a second and are rate limited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from storefront import health
from storefront.models import PeriodicSlot, WorkerHeartbeat
from storefront.ops import readiness_memo
from storefront.tasks import tasks_housekeeping

pytestmark = pytest.mark.django_db

CHECKS = {"database", "migrations", "cache", "channel_layer", "worker", "task_queue", "sweep"}


@pytest.fixture(autouse=True)
def _fresh_readiness(settings):
    settings.READYZ_CACHE_SECONDS = 0
    readiness_memo.forget()
    yield
    readiness_memo.forget()


@pytest.fixture
def worker_alive():
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="w1", started_at=now, seen_at=now)
    PeriodicSlot.objects.create(name="banq.tasks.banq_sweep", next_run_at=now, last_enqueued_at=now)


def test_healthz_answers_without_touching_the_database(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "alive"}
    assert len(queries) == 0


def test_readyz_names_every_check_and_passes_with_a_worker(client, worker_alive):
    response = client.get("/readyz")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert set(body["checks"]) == CHECKS
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["worker"]["detail"].startswith("last heartbeat")


def test_readyz_is_503_naming_the_worker_when_none_runs(client, worker_alive):
    WorkerHeartbeat.objects.all().delete()  # a worker that stopped cleanly removes its row

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"] == {
        "ok": False,
        "detail": "no task worker is running",
        "ms": body["checks"]["worker"]["ms"],
    }


def test_a_worker_silent_for_its_lease_is_not_ready(client, worker_alive, settings):
    settings.WORKER_LEASE_SECONDS = 60
    WorkerHeartbeat.objects.update(seen_at=timezone.now() - timedelta(seconds=61))

    body = client.get("/readyz").json()

    assert body["failing"] == ["worker"]
    assert "no task worker has beaten for 61 s" in body["checks"]["worker"]["detail"]


def test_a_task_waiting_too_long_fails_the_task_queue(client, worker_alive, settings):
    settings.READYZ_TASK_MAX_AGE_SECONDS = 300
    result = tasks_housekeeping.enqueue()
    DBTaskResult.objects.filter(pk=result.id).update(
        enqueued_at=timezone.now() - timedelta(seconds=400)
    )

    body = client.get("/readyz").json()

    assert body["failing"] == ["task_queue"]
    assert "waited 400 s" in body["checks"]["task_queue"]["detail"]


def test_a_task_scheduled_for_later_is_not_late(client, worker_alive, settings):
    settings.READYZ_TASK_MAX_AGE_SECONDS = 300
    result = tasks_housekeeping.using(run_after=timezone.now() + timedelta(hours=1)).enqueue()
    DBTaskResult.objects.filter(pk=result.id).update(
        enqueued_at=timezone.now() - timedelta(hours=2)
    )

    assert client.get("/readyz").status_code == 200


def test_a_sweep_not_enqueued_for_too_long_fails(client, worker_alive, settings):
    settings.READYZ_SWEEP_MAX_AGE_SECONDS = 120
    PeriodicSlot.objects.update(last_enqueued_at=timezone.now() - timedelta(minutes=5))

    body = client.get("/readyz").json()

    assert body["failing"] == ["sweep"]
    assert body["checks"]["sweep"]["detail"] == "banq's sweep was last enqueued 300 s ago"


def test_unapplied_migrations_fail_naming_the_first(client, worker_alive, monkeypatch):
    code = health.code_migrations() | {("orders", "9999_not_applied")}
    monkeypatch.setattr(health, "code_migrations", lambda: code)

    body = client.get("/readyz").json()

    assert body["failing"] == ["migrations"]
    assert body["checks"]["migrations"]["detail"] == (
        "1 migration(s) not applied (first: orders.9999_not_applied)"
    )


def test_a_failing_check_says_what_without_a_secret(client, worker_alive, settings, monkeypatch):
    settings.BANQ_PASSWORD = "hunter2-banq-password"

    def broken(self):
        raise RuntimeError(f"connect failed with {settings.BANQ_PASSWORD}")

    monkeypatch.setattr(health.Sweep, "run", broken)

    body = client.get("/readyz").json()

    assert body["failing"] == ["sweep"]
    assert body["checks"]["sweep"]["detail"] == "unexpected error (RuntimeError)"
    assert "hunter2" not in str(body)


def test_readyz_and_healthz_answer_probes_by_address_and_over_http(client, worker_alive, settings):
    """Probes and load balancers call a process by its own address, and over plain HTTP behind
    the proxy: no DisallowedHost, no redirect to HTTPS."""
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz", HTTP_HOST="10.0.0.12:8001").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.0.12:8001").status_code == 200
    assert client.get("/", HTTP_HOST="10.0.0.12:8001").status_code == 400  # everything else


def test_a_flood_of_readyz_runs_the_checks_once_a_second(client, worker_alive, settings):
    settings.READYZ_CACHE_SECONDS = 60
    client.get("/readyz")
    with CaptureQueriesContext(connection) as queries:
        answers = [client.get("/readyz").status_code for _ in range(20)]

    assert answers == [200] * 20
    assert len(queries) == 0  # the answer of the first call stands


def test_readyz_is_rate_limited_per_address(client, worker_alive, settings):
    settings.READYZ_RATE_LIMIT = 5

    answers = [client.get("/readyz", REMOTE_ADDR="203.0.113.9").status_code for _ in range(7)]
    other = client.get("/readyz", REMOTE_ADDR="203.0.113.10")

    assert answers == [200] * 5 + [429] * 2
    assert other.status_code == 200


def test_the_checks_cost_a_few_milliseconds(worker_alive):
    health.readiness_run()  # the code's migrations are read from disk once per process
    with CaptureQueriesContext(connection) as queries:
        readiness = health.readiness_run()

    assert readiness.ok
    assert len(queries) <= 8  # one small query per database check
