"""Helpers for the CSV export tests: read a CSV, a streamed body, many orders in bulk."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.utils import timezone

from orders.models import Order, OrderItem


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


def many_orders(count: int, *, lines: int = 1) -> None:
    """``count`` paid orders of ``lines`` lines each, written in bulk."""
    now = timezone.now()
    orders = Order.objects.bulk_create(
        Order(
            number=f"SF-BULK-{n:06d}",
            email=f"bulk{n}@example.com",
            name=f"Bulk Shopper {n}",
            subtotal=Decimal("12.50"),
            total=Decimal("12.50"),
            status=Order.Status.PAID,
            paid_at=now,
        )
        for n in range(count)
    )
    OrderItem.objects.bulk_create(
        OrderItem(
            order=order,
            product_name=f"Mug {line}",
            unit_price=Decimal("12.50"),
            quantity=1,
            line_total=Decimal("12.50"),
        )
        for order in orders
        for line in range(lines)
    )
