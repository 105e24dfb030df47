"""A shopper over real HTTP and WebSockets, for tests against a live store (``live_store``)."""

from __future__ import annotations

import re

import requests
import websockets

from orders.models import Product
from tests.support.wait import receive_until


class Shopper:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def csrf(self) -> str:
        return self.http.cookies.get("csrftoken", "")

    def post_form(self, path: str, data: dict) -> requests.Response:
        return self.http.post(
            self.base + path,
            data={**data, "csrfmiddlewaretoken": self.csrf()},
            headers={"Referer": self.base + path},
            timeout=10,
        )

    def place_order(self, product: Product, quantity: int = 1) -> tuple[str, str]:
        assert self.http.get(self.base + "/", timeout=10).status_code == 200
        added = self.post_form("/cart/add/", {"product": product.slug, "quantity": quantity})
        assert added.status_code == 200, added.text[:500]
        assert self.http.get(self.base + "/checkout/", timeout=10).status_code == 200
        placed = self.post_form("/checkout/", {"email": "sam@example.com", "name": "Sam Shopper"})
        assert placed.status_code == 200
        match = re.search(r"/orders/([0-9a-f-]{36})/", placed.url)
        assert match, placed.url
        return match.group(1), placed.text

    def payment_link(self, public_id: str) -> requests.Response:
        return self.http.post(
            self.base + "/generate-payment-link",
            json={"orderId": public_id, "funds": 0.01, "comment": "tampered"},
            headers={"X-CSRFToken": self.csrf(), "Referer": self.base + "/"},
            timeout=15,
        )

    def confirm(self, public_id: str) -> requests.Response:
        """What the order page does when the widget reports a payment."""
        return self.http.post(
            f"{self.base}/orders/{public_id}/confirm",
            headers={"X-CSRFToken": self.csrf(), "Referer": self.base + "/"},
            timeout=15,
        )

    def status(self, public_id: str) -> dict:
        return self.http.get(f"{self.base}/orders/{public_id}/status", timeout=10).json()


async def next_status(ws, wanted: str, timeout: float) -> dict:
    return await receive_until(
        ws,
        lambda message: message.get("status") == wanted,
        timeout=timeout,
        what=f"a {wanted!r} status pushed",
    )


def open_socket(shopper: Shopper, public_id: str):
    ws_url = shopper.base.replace("http://", "ws://") + f"/ws/orders/{public_id}/"
    cookie = "; ".join(f"{c.name}={c.value}" for c in shopper.http.cookies)
    return websockets.connect(
        ws_url, additional_headers={"Cookie": cookie}, origin=shopper.base, open_timeout=10
    )
