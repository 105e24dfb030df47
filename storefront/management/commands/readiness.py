"""``manage.py readiness``: the readiness checks of ``/readyz``, run here; exit status 0 when
they pass, 1 when one fails (for a container's or a unit's health check).

    manage.py readiness                      # every check, as /readyz runs them
    manage.py readiness --only worker sweep  # some of them
    manage.py readiness --worker "$HOSTNAME" # this worker's own heartbeat (a worker container)
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from storefront.health import readiness_checks, readiness_run
from storefront.models import WorkerHeartbeat


class Command(BaseCommand):
    help = (
        "Run the readiness checks of /readyz (database, migrations, cache, channel layer, task "
        "worker, task queue, sweep) and print them as JSON; exit 1 when one fails. With "
        "--worker ID, check that worker's own heartbeat instead."
    )
    requires_system_checks: list = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", nargs="+", default=(), help="Names of checks to run.")
        parser.add_argument(
            "--worker",
            default=None,
            help="A worker id (manage.py worker --worker-id): only its heartbeat is checked.",
        )

    def handle(self, *args, only, worker, **options) -> None:
        if worker:
            self._worker(worker)
            return
        unknown = sorted(set(only) - set(readiness_checks()))
        if unknown:
            raise CommandError(f"Unknown check(s): {', '.join(unknown)}.")
        readiness = readiness_run(only=tuple(only))
        self.stdout.write(json.dumps(readiness.as_json()))
        if not readiness.ok:
            raise CommandError(f"Not ready: {', '.join(readiness.failing)}.", returncode=1)

    def _worker(self, worker_id: str) -> None:
        seen = (
            WorkerHeartbeat.objects.filter(worker_id=worker_id)
            .values_list("seen_at", flat=True)
            .first()
        )
        if seen is None:
            raise CommandError(f"Worker {worker_id} is not running.", returncode=1)
        age = (timezone.now() - seen).total_seconds()
        if age > float(settings.WORKER_LEASE_SECONDS):
            raise CommandError(f"Worker {worker_id} has not beaten for {age:.0f} s.", returncode=1)
        self.stdout.write(f"Worker {worker_id}: last heartbeat {age:.0f} s ago.")
