"""``manage.py worker``: runs background tasks and the periodic work (see ``storefront.worker``)."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.crypto import get_random_string
from django_tasks import task_backends
from django_tasks_db import DatabaseBackend

from storefront.worker import Heartbeat, Scheduler, tasks_run_ready, worker_create

logger = logging.getLogger("storefront.worker")


class Command(BaseCommand):
    help = (
        "Run the store's task worker: the outbox (confirmation e-mails, signals), webhook "
        "retries, and the periodic work of WORKER_PERIODIC_TASKS (the sweep that asks banq about "
        "open payments, order expiry, housekeeping). Run one or more beside the store, on one or "
        "several machines: each task runs once. A worker that dies (kill -9) leaves its task to "
        "the others after WORKER_LEASE_SECONDS without a heartbeat. SIGTERM or Ctrl-C stops it "
        "after the task at hand."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Run the tasks that are ready now, then exit (no periodic schedule).",
        )
        parser.add_argument(
            "--schedule-only",
            action="store_true",
            help="Only enqueue the periodic tasks (with a task backend whose own worker runs "
            "them, such as RQ or Celery).",
        )
        parser.add_argument(
            "--no-schedule",
            action="store_true",
            help="Run tasks but leave the periodic schedule to other workers.",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds an idle worker waits before looking for tasks again "
            "(default WORKER_POLL_SECONDS).",
        )
        parser.add_argument("--worker-id", default=None, help="Unique id (default: random).")

    def handle(self, *args, **options) -> None:
        is_db = isinstance(task_backends["default"], DatabaseBackend)
        worker_id = options["worker_id"] or get_random_string(16)
        if options["batch"]:
            if not is_db:
                raise CommandError("--batch needs the database task backend.")
            # A batch run beats too: another worker's lease check leaves its tasks alone.
            heartbeat = Heartbeat(worker_id=worker_id)
            heartbeat.start()
            try:
                ran = tasks_run_ready(worker_id=worker_id)
            finally:
                heartbeat.stopping.set()
                heartbeat.join(timeout=5)
            self.stdout.write(f"{ran} task(s) run.")
            return
        if options["schedule_only"]:
            self._schedule_only()
            return
        if not is_db:
            raise CommandError(
                "TASKS_BACKEND is not the database backend: run that backend's own worker, and "
                "`manage.py worker --schedule-only` for the periodic work."
            )
        interval = options["interval"]
        interval = settings.WORKER_POLL_SECONDS if interval is None else interval
        if interval < 0:
            raise CommandError("--interval must be zero or more.")
        scheduler = None if options["no_schedule"] else Scheduler()
        worker = worker_create(worker_id=worker_id, interval=interval)
        worker.configure_signals()
        heartbeat = Heartbeat(worker_id=worker_id)
        heartbeat.start()
        if scheduler is not None:
            scheduler.start()
        logger.info(
            "Worker %s started (%s periodic task(s))",
            worker_id,
            0 if scheduler is None else len(settings.WORKER_PERIODIC_TASKS),
        )
        try:
            worker.run()
        finally:
            if scheduler is not None:
                scheduler.stopping.set()
            heartbeat.stopping.set()
            heartbeat.join(timeout=5)
            logger.info("Worker %s stopped", worker_id)

    def _schedule_only(self) -> None:
        scheduler = Scheduler()
        stop = threading.Event()

        def _stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        scheduler.start()
        logger.info("Scheduler started (%s periodic task(s))", len(settings.WORKER_PERIODIC_TASKS))
        stop.wait()
        scheduler.stopping.set()
        scheduler.join(timeout=5)
        sys.exit(0)
