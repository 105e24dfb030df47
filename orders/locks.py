"""Row locks, in one place, with the one lock order.

Every transaction that locks more than one kind of row takes them in this order, so two writers
can never wait for each other in a circle:

    1. the order (orders)
    2. the payment attempt (the provider's)
    3. the webhook event (webhooks): written last, by a conditional update that finds whether
       another run settled it meanwhile (``webhooks.services``), never locked before the order

Each app locks its own rows through ``row_lock``; the order is locked with ``order_lock``. Both
must run inside ``transaction.atomic()`` (``select_for_update`` refuses otherwise).
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.db import models

from orders.models import Order

M = TypeVar("M", bound=models.Model)


def row_lock(model: type[M], *, fields: tuple[str, ...] = (), **lookup: Any) -> M:
    """The row of ``model`` matching ``lookup``, locked until the transaction ends (only
    ``fields`` read, when given). Raises ``model.DoesNotExist``."""
    query = model._default_manager.select_for_update()
    if fields:
        query = query.only(*fields)
    return query.get(**lookup)


def order_lock(*, pk: int | None = None, public_id: uuid.UUID | None = None) -> Order:
    """The order with ``pk`` (or ``public_id``), locked (lock order: first, before the payment
    attempt and the webhook event). Raises ``Order.DoesNotExist``."""
    if pk is not None:
        return row_lock(Order, pk=pk)
    if public_id is None:
        raise TypeError("order_lock needs pk or public_id")
    return row_lock(Order, public_id=public_id)
