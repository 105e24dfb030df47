"""Periodic work of the orders app, run by ``manage.py worker`` (``TASK_PERIODIC`` in the
settings): ``orders_expire``, the expiry of unpaid orders past their payment time (the payment
provider is asked first). Apart from ``orders.tasks``, the side effects the status machine
enqueues, because this one drives the status machine.
"""

from __future__ import annotations

from django_tasks import task

from orders.services import orders_expire_stale

EXPIRE_BATCH = 200


@task()
def orders_expire() -> str:
    """Expire unpaid orders past their payment time (periodic)."""
    expired = orders_expire_stale(limit=EXPIRE_BATCH)
    return f"{len(expired)} expired"
