"""Test data for the benchmarks, written straight to the benchmark's database (this process runs
Django on the same database as the servers)."""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

import requests


def order_batch(n: int, *, total: str = "19.90", status: str = "awaiting_payment") -> list:
    from orders.models import Order, OrderItem

    orders = [
        Order(
            number=f"BN-{uuid.uuid4().hex[:12].upper()}",
            email="bench@example.com",
            name="Bench Shopper",
            subtotal=Decimal(total),
            total=Decimal(total),
            status=status,
        )
        for _ in range(n)
    ]
    Order.objects.bulk_create(orders)
    orders = list(Order.objects.filter(number__in=[o.number for o in orders]))
    OrderItem.objects.bulk_create(
        OrderItem(
            order=o, product_name="Bench item", unit_price=o.total, quantity=1, line_total=o.total
        )
        for o in orders
    )
    return orders


class Emulator:
    """Makes payments at the emulator directly (its API and control API)."""

    def __init__(self, url: str) -> None:
        from banq_emulator import defaults

        self.url = url
        self.http = requests.Session()
        self.token = self.http.post(
            f"{url}/oauth/token",
            json=defaults.OPEN_API_TOKEN_REQUEST,
            timeout=10,
        ).json()["access_token"]
        self.merchant = defaults.MERCHANT_BANQ_GUID

    def link_body(self, order) -> str:
        """get-paid-link's body for ``order``, the amount as an exact JSON number."""
        return (
            f'{{"destination": {{"banqGuid": "{self.merchant}"}}, "comment": "Order '
            f'{order.number}", "funds": {order.total}, "externalOrderCode": "{order.number}", '
            '"frequency": "once"}'
        )

    def link(self, order) -> dict:
        body = self.link_body(order)
        return self.http.post(
            f"{self.url}/api/v1/payments/get-paid-link",
            data=body,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            timeout=10,
        ).json()["data"]

    def complete(self, payment_id: str) -> None:
        self.http.post(f"{self.url}/_emulator/api/payments/{payment_id}/complete", timeout=10)

    def tokens_issued(self) -> int:
        return self.http.get(f"{self.url}/_emulator/api/state", timeout=10).json()["data"][
            "counts"
        ]["tokens"]


def paid_at_banq(emulator: Emulator, n: int, *, complete: bool = True) -> list[tuple]:
    """``n`` orders, each with a store attempt for a banq payment (completed unless told)."""
    from banq.models import BanqPayment

    orders = order_batch(n)
    attempts = []
    for order in orders:
        data = emulator.link(order)
        if complete:
            emulator.complete(data["id"])
        attempts.append(
            BanqPayment(
                order=order,
                banq_payment_id=data["id"],
                url=data["url"],
                funds=order.total,
                status="created",
                banq_status="created",
            )
        )
    BanqPayment.objects.bulk_create(attempts)
    return [
        (order, attempt.banq_payment_id) for order, attempt in zip(orders, attempts, strict=True)
    ]


def owner_sessions(orders) -> list[str]:
    """A browser session owning each order (what checkout leaves behind); their keys."""
    from importlib import import_module

    from django.conf import settings

    from orders.access import session_grant_order

    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore  # noqa: N806

    keys = []
    for order in orders:
        session = SessionStore()
        session_grant_order(session=session, order=order)
        session.create()
        keys.append(session.session_key)
    return keys


def csrf_token() -> str:
    return secrets.token_hex(16)  # 32 characters: a valid unmasked token for cookie and header
