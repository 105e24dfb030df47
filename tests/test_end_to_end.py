"""A shopper over real sockets: the real store (daphne) against the real banq emulator.

Both payment paths of the seed: paying inside the widget's payment page, and approving in the
"banq app" after scanning the QR code, where only the webhook and the WebSocket tell the page.
"""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal

import pytest
import requests
import websockets

from orders.models import Order
from tests.factories import product_create
from tests.support.shopper import Shopper, next_status, open_socket
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def store(emulator_store):
    return emulator_store


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
            approved = requests.post(banq_emulator.url + approve, timeout=10)
            assert approved.status_code == 200
            assert "successPayment" not in approved.text
            return await next_status(ws, "paid", timeout=5)

    pushed = asyncio.run(scenario())
    assert pushed["paid"] is True
    assert pushed["payment_reference"] == payment["id"]
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

    wait_for(
        lambda: shopper.status(public_id)["status"] == "paid",
        timeout=10,
        interval=0.1,
        what="the webhook paid the order",
    )

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
            # banq recorded its deliveries as dropped: nothing reached the store.
            delivered = await asyncio.to_thread(banq_emulator.wait_for_deliveries, 1)
            assert {d["status"] for d in delivered} == {"dropped"}
            assert shopper.status(public_id)["status"] == "awaiting_payment"
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
            # The command ran in another process: the store's watcher picks the change up.
            return await next_status(ws, "paid", timeout=5)

    asyncio.run(scenario())
    assert all(d["status"] == "dropped" for d in banq_emulator.deliveries())
