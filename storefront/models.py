"""Project-wide tables: the periodic schedule of the task worker."""

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
