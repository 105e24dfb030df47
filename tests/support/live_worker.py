"""pytest fixtures: the real task worker (``manage.py worker``) in a subprocess.

``live_worker_factory`` (function-scoped, uses ``transactional_db``): ``start(extra_env=None)``
starts a worker on the test database (environment from ``live_store.live_env``) and waits until
it says it started; ``.output()`` is what it printed; ``.kill()`` is a kill -9; every worker
started is stopped (SIGTERM) at teardown.

    def test_something(live_worker_factory):
        worker = live_worker_factory({"BANQ_SWEEP_SCHEDULE": "1s,2s"})
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.live_store import BASE_DIR, live_env

START_TIMEOUT = 20.0


@dataclass
class LiveWorker:
    process: subprocess.Popen
    env: dict[str, str] = field(repr=False)
    _log_path: str = field(repr=False, default="")

    def output(self) -> str:
        try:
            return Path(self._log_path).read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """kill -9: no chance to finish the task at hand."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log_path:
            Path(self._log_path).unlink(missing_ok=True)


def live_worker_start(extra_env: dict[str, str] | None = None) -> LiveWorker:
    env = live_env({"WORKER_POLL_SECONDS": "0.1", **(extra_env or {})})
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, read on failure
        prefix="live-worker-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "worker"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    worker = LiveWorker(process=process, env=env, _log_path=log.name)
    deadline = time.monotonic() + START_TIMEOUT
    while "started" not in worker.output():
        if process.poll() is not None or time.monotonic() > deadline:
            output = worker.output()
            worker.stop()
            pytest.fail(f"The worker did not start:\n{output}", pytrace=False)
        time.sleep(0.05)
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
