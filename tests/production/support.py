"""Helpers for the production tests: store and worker processes started in parallel, with their
whole output (stdout and stderr) kept, and what the multi-process proofs need.

``Cluster`` holds ``stores`` (``python -m storefront.serve`` on their own ports) and ``workers``
(``manage.py worker``), all on the test database (``tests.support.processes``) and on
this process's ``REDIS_URL``. ``start_cluster(stores=2, workers=2, env=...)`` starts them all at
once and waits until every store listens and every worker says it started.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

from tests.support.processes import LiveProcess, launch_store, launch_worker, wait_until_ready

Process = LiveProcess


def multi_process_backends() -> tuple[bool, str]:
    """Whether this run's database and channel layer can be shared by several processes."""
    if "postgresql" not in connection.settings_dict["ENGINE"] or not os.environ.get("REDIS_URL"):
        return False, (
            "needs PostgreSQL and Redis (DATABASE_URL=postgres://..., REDIS_URL=redis://...): "
            "with SQLite and the in-memory channel layer, pushes can't cross processes. CI runs "
            "it on its PostgreSQL + Redis leg."
        )
    return True, ""


def spawn_store(
    extra_env: dict[str, str] | None = None, *, name: str = "store", split: bool = False
) -> Process:
    """A store whose whole output (its access log included) is kept; ``split``: stderr apart."""
    return launch_store(extra_env, name=name, access_log=True, split=split)


def spawn_worker(extra_env: dict[str, str] | None = None, *, name: str = "worker") -> Process:
    return launch_worker(extra_env, name=name)


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
        wait_until_ready(*cluster.stores, *cluster.workers)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def vm_rss_kib(pid: int) -> int:
    """Resident memory of process ``pid`` in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")
