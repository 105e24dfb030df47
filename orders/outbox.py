"""The outbox: side effects that must not be lost leave as tasks enqueued in the same transaction
as the change that causes them.

With the database task backend (the default, ``django_tasks_db``) the task row is written in the
current transaction: it exists exactly when the change is committed, so a crash after the commit
loses nothing and a rollback sends nothing. With a backend that enqueues elsewhere (RQ, Celery)
this falls back to enqueueing after the commit, which a crash between the two can skip.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django_tasks_db import DatabaseBackend
from django_tasks_db.compat import normalize_json, task_enqueued
from django_tasks_db.models import DBTaskResult

from storefront import writes
from storefront.writes import Write

logger = logging.getLogger(__name__)


def outbox_enqueue(task: Any, *args: Any, **kwargs: Any) -> None:
    """Enqueue ``task(*args, **kwargs)`` atomically with the current transaction."""
    if isinstance(task.get_backend(), DatabaseBackend):
        task.enqueue(*args, **kwargs)
        return

    def later() -> None:
        try:
            task.enqueue(*args, **kwargs)
        except Exception:
            logger.exception("Task %s could not be enqueued after commit", task.name)

    transaction.on_commit(later)


def outbox_writes(task: Any, *args: Any, **kwargs: Any) -> tuple[Write, ...]:
    """``outbox_enqueue`` for a change that sends its writes together (``storefront.writes``):
    with the database backend, the task's row as a write to send with the change's own (one
    statement on PostgreSQL); with another backend, nothing to send (enqueued after the commit).

    The row is the one the backend's ``enqueue`` writes, field for field, and the backend's
    ``task_enqueued`` signal follows once it is written (tests/storefront/
    test_third_party_internals.py watches that code of django-tasks-db)."""
    backend = task.get_backend()
    if not isinstance(backend, DatabaseBackend):
        outbox_enqueue(task, *args, **kwargs)
        return ()
    backend.validate_task(task)
    row: DBTaskResult[Any, Any] = DBTaskResult(
        id=backend._get_id(),
        args_kwargs=normalize_json({"args": args, "kwargs": kwargs}),
        priority=task.priority,
        task_path=task.module_path,
        queue_name=task.queue_name,
        run_after=task.run_after,
        backend_name=backend.alias,
    )

    def enqueued() -> None:
        task_enqueued.send(type(backend), task_result=row.task_result)

    return (writes.insert(row, sent=enqueued),)
