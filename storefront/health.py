"""Readiness: the checks behind ``GET /readyz`` (served by ``storefront.ops``) and
``manage.py readiness``.

Each check is a django-health-check ``HealthCheck``: its ``run()`` raises ``ServiceUnavailable``
with a message for people, or returns (a short note, for ours). The library's ``Database``
(``SELECT 1``) and ``Cache`` (a set and a get) are used as they are; the store adds:

- ``migrations``: every migration of the code is applied (one query; the code's migrations are
  read from disk once per process);
- ``channel_layer``: Redis answers a ping (with ``REDIS_URL``), or the in-memory layer of this
  process;
- ``worker``: a task worker beat at most ``WORKER_LEASE_SECONDS`` ago (``WorkerHeartbeat``;
  a worker that stopped cleanly removed its row);
- ``task_queue``: no task has waited to run longer than ``READYZ_TASK_MAX_AGE_SECONDS``;
- ``sweep``: the worker enqueued banq's sweep at most ``READYZ_SWEEP_MAX_AGE_SECONDS`` ago.

They run one after the other in the calling thread, with its database connection (each is one
small query or round trip: a few milliseconds in all). Messages are the store's own words, passed
through the redaction (``storefront.redaction``): never a secret.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import time
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Min, Q
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max
from health_check import Cache, Database, HealthCheck
from health_check.exceptions import HealthCheckException, ServiceUnavailable

from storefront.logfilters import configured_secrets
from storefront.models import PeriodicSlot
from storefront.redaction import redact
from storefront.worker import worker_heartbeat_age

logger = logging.getLogger(__name__)


@functools.cache
def code_migrations() -> frozenset[tuple[str, str]]:
    """The migrations of the code this process runs: read from disk once."""
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


@dataclasses.dataclass
class Migrations(HealthCheck):
    def run(self) -> str:
        applied = set(MigrationRecorder(connection).applied_migrations())
        missing = sorted(code_migrations() - applied)
        if missing:
            first = ".".join(missing[0])
            raise ServiceUnavailable(f"{len(missing)} migration(s) not applied (first: {first})")
        return f"{len(applied)} applied"


@dataclasses.dataclass
class ChannelLayer(HealthCheck):
    async def run(self) -> str:
        layer = get_channel_layer()
        if layer is None:
            raise ServiceUnavailable("no channel layer is configured")
        if not hasattr(layer, "connection"):  # in-memory: nothing to reach
            return "in-memory (this process only)"
        try:
            for index in range(len(layer.hosts)):
                await layer.connection(index).ping()
        except Exception as exc:  # redis-py raises its own family, not OSError
            raise ServiceUnavailable(f"Redis did not answer ({type(exc).__name__})") from exc
        return "redis"


def _age(when: datetime | None, now: datetime) -> float | None:
    return None if when is None else max(0.0, (now - when).total_seconds())


@dataclasses.dataclass
class Worker(HealthCheck):
    def run(self) -> str:
        age = worker_heartbeat_age()
        limit = float(settings.WORKER_LEASE_SECONDS)
        if age is None:
            raise ServiceUnavailable("no task worker is running")
        if age > limit:
            raise ServiceUnavailable(f"no task worker has beaten for {age:.0f} s (limit {limit:g})")
        return f"last heartbeat {age:.0f} s ago"


def task_queue_oldest_due_age(*, now: datetime) -> float:
    """Seconds the task waiting longest to run has been due (since it was enqueued, or since its
    ``run_after``); 0 when none is due. One query over the ready tasks."""
    never = get_date_max()  # django-tasks-db's "no run_after"
    due = DBTaskResult.objects.filter(status=TaskResultStatus.READY).aggregate(
        enqueued=Min("enqueued_at", filter=Q(run_after=never)),
        scheduled=Min("run_after", filter=Q(run_after__lte=now)),
    )
    ages = [_age(due["enqueued"], now), _age(due["scheduled"], now)]
    return max((age for age in ages if age is not None), default=0.0)


@dataclasses.dataclass
class TaskQueue(HealthCheck):
    def run(self) -> str:
        oldest = task_queue_oldest_due_age(now=timezone.now())
        limit = float(settings.READYZ_TASK_MAX_AGE_SECONDS)
        if oldest > limit:
            raise ServiceUnavailable(f"a task has waited {oldest:.0f} s to run (limit {limit:g})")
        return f"oldest due task waited {oldest:.0f} s"


@dataclasses.dataclass
class Sweep(HealthCheck):
    def run(self) -> str:
        task = settings.READYZ_SWEEP_TASK
        last = (
            PeriodicSlot.objects.filter(name=task)
            .values_list("last_enqueued_at", flat=True)
            .first()
        )
        age = _age(last, timezone.now())
        limit = float(settings.READYZ_SWEEP_MAX_AGE_SECONDS)
        if age is None:
            raise ServiceUnavailable("banq's sweep has never been enqueued")
        if age > limit:
            raise ServiceUnavailable(f"banq's sweep was last enqueued {age:.0f} s ago")
        return f"last enqueued {age:.0f} s ago"


def readiness_checks() -> dict[str, HealthCheck]:
    """The checks of ``/readyz``, by the name the answer gives them."""
    return {
        "database": Database(),
        "migrations": Migrations(),
        "cache": Cache(),
        "channel_layer": ChannelLayer(),
        "worker": Worker(),
        "task_queue": TaskQueue(),
        "sweep": Sweep(),
    }


@dataclasses.dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    ms: float


@dataclasses.dataclass(frozen=True)
class Readiness:
    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    @property
    def failing(self) -> list[str]:
        return [result.name for result in self.results if not result.ok]

    def as_json(self) -> dict:
        """``{"status": "ok" | "failing", "failing": [names], "checks": {name: {"ok", "detail",
        "ms"}}}``."""
        return {
            "status": "ok" if self.ok else "failing",
            "failing": self.failing,
            "checks": {
                r.name: {"ok": r.ok, "detail": r.detail, "ms": round(r.ms, 2)} for r in self.results
            },
        }


# (check, exception type) whose traceback this process logged: probes come every second.
_logged: set[tuple[str, str]] = set()


def _failure(name: str, exc: BaseException) -> str:
    if isinstance(exc, HealthCheckException):
        return str(exc.message)
    kind = type(exc).__name__
    if (name, kind) not in _logged:
        _logged.add((name, kind))
        logger.error("Readiness check %s failed unexpectedly", name, exc_info=exc)
    return f"unexpected error ({kind})"


def _result(name: str, started: float, note: object, exc: BaseException | None) -> CheckResult:
    elapsed = (time.perf_counter() - started) * 1000
    note_text = note if isinstance(note, str) else ""
    detail = note_text if exc is None else _failure(name, exc)
    return CheckResult(name, exc is None, redact(detail, configured_secrets())[:300], elapsed)


def check_run(name: str, check: HealthCheck) -> CheckResult:
    """Run one synchronous check here and now; what it raises becomes its failure, in words."""
    started = time.perf_counter()
    try:
        return _result(name, started, check.run(), None)
    except Exception as exc:
        return _result(name, started, None, exc)


async def _checks_run_async(checks: dict[str, HealthCheck]) -> dict[str, CheckResult]:
    found = {}
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            found[name] = _result(name, started, await check.run(), None)
        except Exception as exc:
            found[name] = _result(name, started, None, exc)
    return found


def readiness_run(*, only: tuple[str, ...] = ()) -> Readiness:
    """Run the checks (or those named in ``only``), in the calling thread; the asynchronous ones
    (the cache, the channel layer) together, in one trip to an event loop."""
    checks = {name: c for name, c in readiness_checks().items() if not only or name in only}
    pending = {n: c for n, c in checks.items() if inspect.iscoroutinefunction(c.run)}
    done = async_to_sync(_checks_run_async)(pending) if pending else {}
    for name, check in checks.items():
        if name not in pending:
            done[name] = check_run(name, check)
    return Readiness(tuple(done[name] for name in checks))
