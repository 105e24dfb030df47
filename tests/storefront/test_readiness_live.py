"""/healthz and /readyz of the real store (daphne) with the real task worker: ready while the
worker runs, 503 naming the worker once it is stopped, alive all along."""

from __future__ import annotations

import pytest
import requests

from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def readyz_when(store, status: int) -> dict | None:
    """/readyz's JSON when it answers ``status``, else None."""
    response = requests.get(f"{store.url}/readyz", timeout=10)
    return response.json() if response.status_code == status else None


def test_readyz_follows_the_worker(live_store_factory, live_worker_factory):
    store = live_store_factory()
    worker = live_worker_factory({"STOREFRONT_URL": store.url})

    body = wait_for(
        lambda: readyz_when(store, 200),
        timeout=20,
        what="the store is ready once its worker runs",
    )
    assert body["status"] == "ok"
    assert set(body["checks"]) == {
        "database",
        "migrations",
        "cache",
        "channel_layer",
        "worker",
        "task_queue",
        "sweep",
    }

    worker.stop()  # SIGTERM: the worker finishes its task and removes its heartbeat

    body = wait_for(
        lambda: readyz_when(store, 503),
        timeout=20,
        what="/readyz answers 503 once the worker is stopped",
    )
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"]["detail"] == "no task worker is running"
    alive = requests.get(f"{store.url}/healthz", timeout=10)
    assert alive.status_code == 200
    assert alive.json() == {"status": "alive"}
