"""A shopper over real sockets: the real store (daphne) against the real banq emulator.

Both payment paths of the seed: paying inside the widget's payment page, and approving in the
"banq app" after scanning the QR code, where only the webhook and the WebSocket tell the page.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from decimal import Decimal

import pytest
import requests
import websockets

from orders.models import Order, Product
from tests.factories import product_create
from tests.support.live_store import emulator_store_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TOKEN = "end-to-end-webhook-token-0f1e2d3c4b5a69788796"


@pytest.fixture
def live_store_env(banq_emulator, emulator_settings):
    return emulator_store_env(banq_emulator, emulator_settings, TOKEN)


@pytest.fixture
def store(banq_emulator, live_store):
    banq_emulator.set_webhook_config(f"{live_store.url}/webhooks/banq/{TOKEN}/payment-status/")
    return live_store


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

    def status(self, public_id: str) -> dict:
        return self.http.get(f"{self.base}/orders/{public_id}/status", timeout=10).json()


async def next_status(ws, wanted: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {wanted!r} status pushed in {timeout}s")
        message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if message.get("status") == wanted:
            return message


def open_socket(shopper: Shopper, public_id: str):
    ws_url = shopper.base.replace("http://", "ws://") + f"/ws/orders/{public_id}/"
    cookie = "; ".join(f"{c.name}={c.value}" for c in shopper.http.cookies)
    return websockets.connect(
        ws_url, additional_headers={"Cookie": cookie}, origin=shopper.base, open_timeout=10
    )


def test_qr_path_pushes_the_paid_status_to_the_open_page(store, banq_emulator):
    product = product_create(name="Travel mug", price="19.90")
    shopper = Shopper(store.url)
    public_id, page = shopper.place_order(product, quantity=2)
    assert f'src="{banq_emulator.widget_url}"' in page

    link = shopper.payment_link(public_id)
    assert link.status_code == 200, link.text
    url = link.json()["data"]["url"]
    assert url.startswith(banq_emulator.url + "/link/")
    # The amount charged comes from our order, not from the tampered body.
    (payment,) = banq_emulator.payments()
    assert Decimal(str(payment["funds"])) == Decimal("39.80")
    assert payment["externalOrderCode"] == Order.objects.get(public_id=public_id).number

    async def scenario() -> dict:
        async with open_socket(shopper, public_id) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert first["status"] == "awaiting_payment"
            # The shopper scans the QR code: the banq app approves, the widget hears nothing.
            link_page = requests.get(url, timeout=10).text
            approve = re.search(r"(/app/approve/[A-Za-z0-9]+)", link_page).group(1)
            started = time.monotonic()
            approved = requests.post(banq_emulator.url + approve, timeout=10)
            assert approved.status_code == 200
            assert "successPayment" not in approved.text
            pushed = await next_status(ws, "paid", timeout=5)
            pushed["latency"] = time.monotonic() - started
            return pushed

    pushed = asyncio.run(scenario())
    assert pushed["paid"] is True
    assert pushed["payment_reference"] == payment["id"]
    assert pushed["latency"] < 3
    assert shopper.status(public_id)["status"] == "paid"
    order = Order.objects.get(public_id=public_id)
    assert order.status == Order.Status.PAID
    assert order.payment_reference == payment["id"]


def test_widget_path_pays_and_a_late_socket_still_sees_it(store, banq_emulator):
    product = product_create(name="Notebook", price="7.35")
    shopper = Shopper(store.url)
    public_id, _ = shopper.place_order(product, quantity=3)
    url = shopper.payment_link(public_id).json()["data"]["url"]
    # Clicking again reuses the open link instead of creating another banq payment.
    assert shopper.payment_link(public_id).json()["data"]["url"] == url
    assert len(banq_emulator.payments()) == 1

    code = url.rsplit("/", 1)[1]
    paid = requests.post(
        f"{banq_emulator.url}/link/{code}/pay",
        data={"email": "shopper@example.test", "password": "demo", "origin": store.url},
        timeout=10,
    )
    assert paid.status_code == 200
    assert "successPayment" in paid.text  # what the widget turns into onPaymentSuccess

    deadline = time.monotonic() + 10
    while shopper.status(public_id)["status"] != "paid":
        assert time.monotonic() < deadline, "the webhook never paid the order"
        time.sleep(0.1)

    async def late_socket() -> dict:
        async with open_socket(shopper, public_id) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 5))

    assert asyncio.run(late_socket())["status"] == "paid"
    # A paid order can't get another link.
    again = shopper.payment_link(public_id)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "order_not_payable"


def test_a_stranger_gets_nothing_over_real_sockets(store):
    product = product_create(price="5.00")
    owner = Shopper(store.url)
    public_id, _ = owner.place_order(product)
    stranger = Shopper(store.url)
    stranger.http.get(store.url + "/", timeout=10)
    assert stranger.http.get(f"{store.url}/orders/{public_id}/", timeout=10).status_code == 404
    assert (
        stranger.http.get(f"{store.url}/orders/{public_id}/status", timeout=10).status_code == 404
    )
    assert stranger.payment_link(public_id).status_code == 404

    async def refused() -> None:
        with pytest.raises(websockets.exceptions.InvalidStatus):
            async with open_socket(stranger, public_id):
                pass

    asyncio.run(refused())


def test_dropped_webhook_then_reconcile_command_flips_the_open_page(store, banq_emulator):
    """banq's webhook never arrives; the operator's cron runs banq_reconcile in another process."""
    import subprocess
    import sys

    from django.conf import settings

    product = product_create(name="Poster", price="12.00")
    shopper = Shopper(store.url)
    public_id, _ = shopper.place_order(product)
    url = shopper.payment_link(public_id).json()["data"]["url"]
    banq_emulator.set_faults(drop_deliveries=1.0)

    async def scenario() -> dict:
        async with open_socket(shopper, public_id) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["status"] == "awaiting_payment"
            code = url.rsplit("/", 1)[1]
            requests.post(f"{banq_emulator.url}/app/approve/{code}", timeout=10)
            await asyncio.sleep(0.5)
            assert shopper.status(public_id)["status"] == "awaiting_payment"  # nothing arrived
            command = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "manage.py", "banq_reconcile", "--older-than", "0s"],
                cwd=settings.BASE_DIR,
                env=store.env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert command.returncode == 0, command.stderr
            assert "paid 1" in command.stdout
            started = time.monotonic()
            pushed = await next_status(ws, "paid", timeout=5)
            pushed["latency"] = time.monotonic() - started
            return pushed

    pushed = asyncio.run(scenario())
    assert pushed["latency"] < 3  # typically ~1 s without Redis (the re-check), ~0.1 s with it
    assert all(d["status"] == "dropped" for d in banq_emulator.deliveries())
