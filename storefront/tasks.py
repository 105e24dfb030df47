"""Housekeeping of the task queue (periodic, ``storefront.worker``)."""

from __future__ import annotations

from django_tasks import task

from storefront.worker import tasks_prune, tasks_requeue_stale


@task()
def tasks_housekeeping() -> str:
    requeued = tasks_requeue_stale()
    pruned = tasks_prune()
    return f"{requeued} requeued, {pruned} pruned"
