"""Helpers for the production tests: store and worker processes started in parallel, with their
whole output (stdout and stderr) kept, and what the multi-process proofs need.

``Cluster`` holds ``stores`` (``python -m storefront.serve`` on their own ports) and ``workers``
(``manage.py worker``), all on the test database (``tests.support.live_store.live_env``) and on
this process's ``REDIS_URL``. ``start_cluster(stores=2, workers=2, env=...)`` starts them all at
once and waits until every store listens and every worker says it started.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection

from tests.support.live_store import BASE_DIR, free_port, live_env

START_TIMEOUT = 30.0


def multi_process_backends() -> tuple[bool, str]:
    """Whether this run's database and channel layer can be shared by several processes."""
    if "postgresql" not in connection.settings_dict["ENGINE"] or not os.environ.get("REDIS_URL"):
        return False, (
            "needs PostgreSQL and Redis (DATABASE_URL=postgres://..., REDIS_URL=redis://...): "
            "with SQLite and the in-memory channel layer, pushes can't cross processes. CI runs "
            "it on its PostgreSQL + Redis leg."
        )
    return True, ""


@dataclass
class Process:
    name: str
    process: subprocess.Popen
    log_path: str
    url: str = ""
    port: int = 0
    env: dict[str, str] = field(default_factory=dict, repr=False)
    errors_path: str = ""

    def output(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def errors(self) -> str:
        try:
            return Path(self.errors_path).read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for path in (self.log_path, self.errors_path):
            if path:
                Path(path).unlink(missing_ok=True)


def _log_file(name: str):
    return tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by the caller
        prefix=f"production-{name}-", suffix=".log", delete=False
    )


def _spawn(
    name: str, command: list[str], env: dict[str, str], *, split: bool = False, **extra
) -> Process:
    """Start ``command``; its stdout and stderr go to one log, or with ``split`` stderr to its
    own (``Process.errors()``)."""
    log = _log_file(name)
    errors = _log_file(f"{name}-stderr") if split else None
    process = subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=log, stderr=errors or subprocess.STDOUT
    )
    log.close()
    if errors is not None:
        errors.close()
    return Process(
        name=name,
        process=process,
        log_path=log.name,
        env=env,
        errors_path=errors.name if errors else "",
        **extra,
    )


def spawn_store(
    extra_env: dict[str, str] | None = None, *, name: str = "store", split: bool = False
) -> Process:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = live_env({"STOREFRONT_URL": url, **(extra_env or {})})
    command = [
        sys.executable,
        "-m",
        "storefront.serve",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "storefront.asgi:application",
    ]
    return _spawn(name, command, env, split=split, url=url, port=port)


def spawn_worker(extra_env: dict[str, str] | None = None, *, name: str = "worker") -> Process:
    env = live_env({"WORKER_POLL_SECONDS": "0.1", **(extra_env or {})})
    return _spawn(name, [sys.executable, "manage.py", "worker"], env)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until_ready(processes: list[Process], timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(processes)
    while waiting:
        for proc in list(waiting):
            if not proc.alive():
                pytest.fail(
                    f"{proc.name} exited with {proc.process.returncode}:\n{proc.output()}",
                    pytrace=False,
                )
            ready = _listening(proc.port) if proc.port else "started" in proc.output()
            if ready:
                waiting.remove(proc)
        if waiting and time.monotonic() > deadline:
            pytest.fail(
                "Not ready in time: "
                + "; ".join(f"{p.name}:\n{p.output()[-2000:]}" for p in waiting),
                pytrace=False,
            )
        if waiting:
            time.sleep(0.05)


@dataclass
class Cluster:
    stores: list[Process]
    workers: list[Process]

    def stop(self) -> None:
        for proc in [*self.stores, *self.workers]:
            proc.stop()


def start_cluster(*, stores: int = 2, workers: int = 2, env: dict[str, str]) -> Cluster:
    """Every process is started before any is waited for: they boot side by side."""
    cluster = Cluster(
        stores=[spawn_store(env, name=f"store-{'AB'[i] if i < 2 else i}") for i in range(stores)],
        workers=[spawn_worker(env, name=f"worker-{i + 1}") for i in range(workers)],
    )
    try:
        wait_until_ready([*cluster.stores, *cluster.workers])
    except BaseException:
        cluster.stop()
        raise
    return cluster


def poll(condition, *, timeout: float, message: str, interval: float = 0.05):
    """``condition()``'s first truthy value within ``timeout`` seconds, else fail with
    ``message`` (a string or a callable giving one)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(message() if callable(message) else message, pytrace=False)
        time.sleep(interval)


def vm_rss_kib(pid: int) -> int:
    """Resident memory of process ``pid`` in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")
