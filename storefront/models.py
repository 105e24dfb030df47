"""Project-wide tables: the periodic schedule of the task worker, and the workers' heartbeats."""

from __future__ import annotations

from django.db import models


class PeriodicSlot(models.Model):
    """When a periodic task is due next. Each worker's scheduler moves ``next_run_at`` on with a
    conditional update before it enqueues the task, so with several workers on several machines
    each periodic run is enqueued once."""

    name = models.CharField("task", max_length=200, unique=True)
    next_run_at = models.DateTimeField("next run")
    last_enqueued_at = models.DateTimeField("last enqueued", null=True, blank=True)

    class Meta:
        verbose_name = "periodic task"
        verbose_name_plural = "periodic tasks"

    def __str__(self) -> str:
        return self.name


class WorkerHeartbeat(models.Model):
    """A running task worker says it is alive: its thread moves ``seen_at`` on every
    ``WORKER_HEARTBEAT_SECONDS``, also while a task runs (a long task keeps its lease). A worker
    whose ``seen_at`` is older than ``WORKER_LEASE_SECONDS`` is dead: the tasks it claimed go back
    to the queue, and the readiness check says so. A worker that stops cleanly deletes its row."""

    worker_id = models.CharField("worker", max_length=64, unique=True)
    started_at = models.DateTimeField("started")
    seen_at = models.DateTimeField("last seen", db_index=True)

    class Meta:
        verbose_name = "worker heartbeat"
        verbose_name_plural = "worker heartbeats"

    def __str__(self) -> str:
        return self.worker_id
