"""The task worker: django-tasks-db's worker plus the periodic schedule (``manage.py worker``).

Periodic tasks are listed in ``settings.WORKER_PERIODIC_TASKS`` (dotted task path: seconds). Every
worker runs a small scheduler thread; a run is enqueued by whichever worker first moves the task's
``PeriodicSlot`` on (a conditional update), and not at all while an earlier run still waits in the
queue. The tasks themselves are claimed by one worker each (``select_for_update(skip_locked)``),
which records its id on the task (``DBTaskResult.worker_ids``, the last one is the claimer).

Leases: every worker records a heartbeat (``Heartbeat``, a thread of its own, every
``WORKER_HEARTBEAT_SECONDS``, also while a long task runs). A task running under a worker whose
heartbeat is older than ``WORKER_LEASE_SECONDS``, or gone, belongs to a worker that died (kill -9,
power loss): ``tasks_requeue_dead`` puts it back in the queue. The scheduler thread runs that
check itself every ``WORKER_LEASE_CHECK_SECONDS`` (once across workers, through its own slot), so
it never waits behind the tasks in the queue. A task running without a worker id goes back after
``STALE_RUNNING`` (housekeeping). Our tasks are idempotent (the e-mail task checks the order's
history), so a task that runs again sends nothing twice.

``tasks_run_ready`` runs the tasks that are ready, in this process: tests and
``manage.py worker --batch`` use it.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from storefront.logs import REQUEST_ID, log_scope
from storefront.models import PeriodicSlot, WorkerHeartbeat

logger = logging.getLogger(__name__)

SCHEDULER_TICK = 1.0  # seconds between looks at the schedule
# A task "running" this long without a worker id belongs to a dead worker (those with one: leases).
STALE_RUNNING = timedelta(minutes=15)
LEASE_SLOT = "storefront.worker.tasks_requeue_dead"  # the lease check's periodic slot
KEEP_SUCCESSFUL = timedelta(days=1)
KEEP_FAILED = timedelta(days=14)


def periodic_tasks() -> dict[str, float]:
    return dict(getattr(settings, "WORKER_PERIODIC_TASKS", {}))


def _slot_take(name: str, *, seconds: float, now: datetime) -> bool:
    """Whether this worker won the periodic slot ``name`` now (a conditional update moves it on
    by ``seconds``, so across workers one wins each time)."""
    try:
        with transaction.atomic():
            PeriodicSlot.objects.get_or_create(name=name, defaults={"next_run_at": now})
    except IntegrityError:  # another worker created it at the same moment
        pass
    won = PeriodicSlot.objects.filter(name=name, next_run_at__lte=now).update(
        next_run_at=now + timedelta(seconds=seconds), last_enqueued_at=now
    )
    return bool(won)


def periodic_enqueue_due() -> list[str]:
    """Enqueue the periodic tasks that are due (once across all workers); returns their paths."""
    now = timezone.now()
    enqueued = []
    for path, seconds in periodic_tasks().items():
        with transaction.atomic():
            if not _slot_take(path, seconds=seconds, now=now):
                continue
            waiting = DBTaskResult.objects.filter(
                task_path=path, status=TaskResultStatus.READY
            ).exists()
            if not waiting:  # an earlier run still in the queue will do
                import_string(path).enqueue()
                enqueued.append(path)
    return enqueued


def tasks_requeue_dead(*, now: datetime | None = None) -> int:
    """Tasks running under a worker whose lease ran out (no heartbeat for
    ``WORKER_LEASE_SECONDS``, or none at all) go back to the queue; returns how many.

    A task claimed less than a lease ago is left alone (its worker may not have beaten yet), and
    each task is put back by a conditional update of the claim it was found with, so a task
    another worker claimed meanwhile is never touched."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.WORKER_LEASE_SECONDS)
    alive = set(
        WorkerHeartbeat.objects.filter(seen_at__gte=cutoff).values_list("worker_id", flat=True)
    )
    requeued = 0
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff)
    for task_id, path, worker_ids, started_at in running.values_list(
        "id", "task_path", "worker_ids", "started_at"
    ):
        if not worker_ids or worker_ids[-1] in alive:
            continue  # no worker id: the STALE_RUNNING fallback; a live worker: still its task
        back = DBTaskResult.objects.filter(
            pk=task_id, status=TaskResultStatus.RUNNING, started_at=started_at
        ).update(status=TaskResultStatus.READY)
        if back:
            requeued += 1
            logger.warning(
                "Task %s (%s): worker %s stopped beating, the task is back in the queue",
                task_id,
                path,
                worker_ids[-1],
            )
    return requeued


def lease_check_due() -> int:
    """Run ``tasks_requeue_dead`` when it is due (every ``WORKER_LEASE_CHECK_SECONDS``, once
    across workers); returns how many tasks went back to the queue."""
    now = timezone.now()
    if not _slot_take(LEASE_SLOT, seconds=settings.WORKER_LEASE_CHECK_SECONDS, now=now):
        return 0
    return tasks_requeue_dead(now=now)


def tasks_requeue_stale(*, older_than: timedelta = STALE_RUNNING) -> int:
    """Tasks left "running" without a worker id (claimed by something that records none) run
    again after ``older_than``; tasks with a worker id are the lease's (``tasks_requeue_dead``).
    Our tasks are idempotent and bounded well under ``older_than``."""
    cutoff = timezone.now() - older_than
    return DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, started_at__lt=cutoff, worker_ids=[]
    ).update(status=TaskResultStatus.READY)


def tasks_prune() -> int:
    now = timezone.now()
    deleted, _ = DBTaskResult.objects.filter(
        status=TaskResultStatus.SUCCESSFUL, finished_at__lt=now - KEEP_SUCCESSFUL
    ).delete()
    failed, _ = DBTaskResult.objects.filter(
        status=TaskResultStatus.FAILED, finished_at__lt=now - KEEP_FAILED
    ).delete()
    return deleted + failed


class Scheduler(threading.Thread):
    """Enqueues the periodic tasks that are due, and runs the lease check when it is due, every
    ``SCHEDULER_TICK`` seconds."""

    def __init__(self) -> None:
        super().__init__(name="periodic-scheduler", daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                close_old_connections()
                periodic_enqueue_due()
                lease_check_due()
            except Exception:  # a database hiccup must not stop the schedule for good
                logger.exception("Scheduler: could not enqueue periodic tasks")
            self.stopping.wait(SCHEDULER_TICK)
        close_old_connections()


def worker_heartbeat_beat(*, worker_id: str) -> None:
    """Record that ``worker_id`` is alive now (one upsert)."""
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"seen_at": now},
        create_defaults={"started_at": now, "seen_at": now},
    )


def worker_heartbeat_forget(*, worker_id: str) -> None:
    """A worker that stops cleanly leaves no heartbeat behind."""
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


def worker_heartbeat_age(*, now: datetime | None = None) -> float | None:
    """Seconds since the newest heartbeat of any worker; None when no worker ever beat."""
    seen = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
    if seen is None:
        return None
    return max(0.0, ((now or timezone.now()) - seen).total_seconds())


class Heartbeat(threading.Thread):
    """Moves the worker's ``WorkerHeartbeat`` on every ``WORKER_HEARTBEAT_SECONDS``, whatever the
    worker's own thread is doing (a long task keeps its lease while the process lives)."""

    def __init__(self, *, worker_id: str) -> None:
        super().__init__(name="worker-heartbeat", daemon=True)
        self.worker_id = worker_id
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                close_old_connections()
                worker_heartbeat_beat(worker_id=self.worker_id)
            except Exception:  # a database hiccup: beat again next time, the lease is longer
                logger.exception("Worker %s: could not record its heartbeat", self.worker_id)
            self.stopping.wait(settings.WORKER_HEARTBEAT_SECONDS)
        try:
            worker_heartbeat_forget(worker_id=self.worker_id)
        except Exception:
            logger.exception("Worker %s: could not remove its heartbeat", self.worker_id)
        close_old_connections()


class StoreWorker(Worker):
    """django-tasks-db's worker; each task's log lines carry ``task-<id>`` as their request id
    (``storefront.logs``), so a task's lines can be told apart like a request's."""

    def run_task(self, db_task_result: DBTaskResult) -> None:
        token = REQUEST_ID.set(f"task-{db_task_result.id}")
        try:
            with log_scope():
                super().run_task(db_task_result)
        finally:
            REQUEST_ID.reset(token)


def worker_create(*, worker_id: str, interval: float, batch: bool = False) -> Worker:
    return StoreWorker(
        queue_names=["*"],
        interval=interval,
        batch=batch,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
    )


def tasks_run_ready(*, max_tasks: int = 1000, worker_id: str = "inline") -> int:
    """Run the tasks that are ready now, in this process, one by one (tasks they enqueue that are
    ready too are run as well), claimed as ``worker_id``; returns how many ran."""
    worker = worker_create(worker_id=worker_id, interval=0)
    ran = 0
    while ran < max_tasks:
        with transaction.atomic():
            result = DBTaskResult.objects.ready().get_locked()
            if result is None:
                return ran
            result.claim(worker.worker_id)
        worker.run_task(result)
        ran += 1
    return ran
