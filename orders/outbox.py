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
