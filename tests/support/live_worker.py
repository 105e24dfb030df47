"""pytest fixtures: the real task worker (``manage.py worker``) in a subprocess.

``live_worker_factory`` (function-scoped, uses ``transactional_db``): ``start(extra_env=None)``
starts a worker on the test database (``tests.support.processes``) and waits until it says it
started; ``.output()`` is what it printed; ``.kill()`` is a kill -9; every worker
started is stopped (SIGTERM) at teardown.

    def test_something(live_worker_factory):
        worker = live_worker_factory({"BANQ_SWEEP_SCHEDULE": "1s,2s"})
"""

from __future__ import annotations

import pytest

from tests.support.processes import LiveProcess, launch_worker, wait_until_ready

LiveWorker = LiveProcess


def live_worker_start(extra_env: dict[str, str] | None = None) -> LiveWorker:
    worker = launch_worker(extra_env)
    wait_until_ready(worker)
    return worker


@pytest.fixture
def live_worker_factory(transactional_db):
    started: list[LiveWorker] = []

    def start(extra_env: dict[str, str] | None = None) -> LiveWorker:
        worker = live_worker_start(extra_env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
