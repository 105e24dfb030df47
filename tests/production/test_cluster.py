"""Proof with real processes: two store processes (daphne, A and B) and two task workers on one
PostgreSQL and one Redis, with the real banq emulator, over real sockets.

Runs on CI's PostgreSQL + Redis leg; skipped on SQLite, where the in-memory channel layer can't
cross processes. Every process re-checks open orders only every 600 s here, so a push that
arrives came through Redis, not through a process noticing the change in the database.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from channels_redis.core import RedisChannelLayer
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from banq.models import BanqPayment
from banq.tasks import banq_sweep
from orders.models import Order, OrderEvent
from tests.factories import product_create
from tests.production.support import multi_process_backends, start_cluster
from tests.support.live_store import emulator_store_env
from tests.support.shopper import Shopper, next_status, open_socket
from tests.support.wait import wait_for

_SHARED, _WHY_NOT = multi_process_backends()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not _SHARED, reason=_WHY_NOT),
]

TOKEN = "cluster-webhook-token-0123456789abcdefghij"
DELIVERIES = 50


@pytest.fixture
def mail_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="cluster-mails-"))


@pytest.fixture
def cluster_env(banq_emulator, emulator_settings, mail_dir) -> dict[str, str]:
    return {
        **emulator_store_env(banq_emulator, emulator_settings, TOKEN),
        "ORDER_STATUS_RECHECK_SECONDS": "600",
        "BANQ_SWEEP_SCHEDULE": "1h",
        "EMAIL_URL": f"filemail:///{mail_dir}",
    }


@pytest.fixture
def cluster_factory(transactional_db, cluster_env):
    started = []

    def start(**extra: str):
        cluster = start_cluster(stores=2, workers=2, env={**cluster_env, **extra})
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


def _webhook_url(store) -> str:
    return f"{store.url}/webhooks/banq/{TOKEN}/payment-status/"


def _order_with_link(store, price: str = "12.30") -> tuple[Shopper, str, BanqPayment]:
    shopper = Shopper(store.url)
    public_id, _ = shopper.place_order(product_create(price=price))
    answer = shopper.payment_link(public_id)
    assert answer.status_code == 200, answer.text
    return shopper, public_id, BanqPayment.objects.get(order__public_id=public_id)


def _paid_rows(public_id: str) -> list[str]:
    return list(
        OrderEvent.objects.filter(order__public_id=public_id, kind=OrderEvent.Kind.PAID)
        .order_by("pk")
        .values_list("source", flat=True)
    )


def _layer() -> RedisChannelLayer:
    """The store's own Redis channel layer configuration (the tests' settings use memory)."""
    import storefront.settings as configured

    return RedisChannelLayer(**configured.CHANNEL_LAYERS["default"]["CONFIG"])


async def _until_sentinel(receive) -> list[dict]:
    """Messages received before the sentinel (``{"sentinel": ...}``), within 10 s."""
    found = []
    while True:
        message = await asyncio.wait_for(receive(), 10)
        if message.get("sentinel"):
            return found
        found.append(message)


def test_a_webhook_delivered_to_b_is_pushed_to_the_page_open_on_a(cluster_factory, banq_emulator):
    cluster = cluster_factory()
    a, b = cluster.stores
    banq_emulator.set_webhook_config(_webhook_url(b))
    shopper, public_id, attempt = _order_with_link(a)

    async def scenario() -> dict:
        async with open_socket(shopper, public_id) as ws:  # the browser's socket, on A
            await next_status(ws, "awaiting_payment", timeout=5)
            approved = await asyncio.to_thread(
                requests.post, f"{banq_emulator.url}/app/approve/{attempt.url.rsplit('/', 1)[1]}"
            )
            assert approved.status_code == 200
            return await next_status(ws, "paid", timeout=15)

    pushed = asyncio.run(scenario())

    assert pushed["paid"] is True
    deliveries = banq_emulator.wait_for_deliveries(1)
    assert {d["status"] for d in deliveries} == {"delivered"}, deliveries
    assert all(f"127.0.0.1:{b.port}/" in d["url"] for d in deliveries), deliveries
    assert _paid_rows(public_id) == [OrderEvent.Source.WEBHOOK]


def test_fifty_deliveries_across_both_stores_make_one_transition_one_email_one_push(
    cluster_factory, banq_emulator, mail_dir
):
    cluster = cluster_factory()
    a, b = cluster.stores
    banq_emulator.set_faults(drop_deliveries=1.0)  # only our 50 deliveries reach the store
    shopper, public_id, attempt = _order_with_link(a)
    order = Order.objects.get(public_id=public_id)
    banq_emulator.complete(attempt.banq_payment_id)
    body = json.dumps(
        {
            "action": "completed",
            "resourceType": "Payment",
            "resourceId": attempt.banq_payment_id,
            "eventId": "evt-fifty-times",
        }
    )
    start = threading.Barrier(DELIVERIES)

    def deliver(n: int) -> tuple[int, str]:
        start.wait(timeout=10)
        answer = requests.post(
            _webhook_url((a, b)[n % 2]),
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        return answer.status_code, answer.json().get("status", answer.text)

    async def scenario():
        layer = _layer()
        group = f"order_{order.public_id.hex}"
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        async with open_socket(shopper, public_id) as ws:
            await next_status(ws, "awaiting_payment", timeout=5)
            with ThreadPoolExecutor(DELIVERIES) as pool:
                answers = await asyncio.to_thread(lambda: list(pool.map(deliver, range(50))))
            first = await next_status(ws, "paid", timeout=10)
            # Everything pushed for the 50 answered deliveries is ahead of this in Redis.
            # ("updated": the socket passes on only what is newer than what the page has.)
            sentinel = {"type": "order.status", "sentinel": "end", "updated": "9999"}
            await layer.group_send(group, sentinel)
            socket_rest = await _until_sentinel(lambda: _json(ws.recv()))
            group_messages = await _until_sentinel(lambda: layer.receive(channel))
        await layer.flush()
        return answers, [first, *socket_rest], group_messages

    answers, socket_messages, group_messages = asyncio.run(scenario())

    assert {code for code, _ in answers} == {200}, answers
    outcomes = sorted(status for _, status in answers)
    assert outcomes.count("processed") == 1, outcomes
    assert outcomes.count("duplicate") == DELIVERIES - 1, outcomes
    assert _paid_rows(public_id) == [OrderEvent.Source.WEBHOOK]
    assert [m for m in socket_messages if m.get("paid")] == [socket_messages[0]]
    assert len([m for m in group_messages if m.get("paid")]) == 1, group_messages
    # One e-mail: wait for the worker to send it, then nothing else is queued or sent.
    wait_for(
        lambda: OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.EMAIL).exists(),
        timeout=30,
        what="the confirmation e-mail was sent",
    )
    order_tasks = DBTaskResult.objects.filter(task_path__startswith="orders.tasks.order_")
    wait_for(
        lambda: not order_tasks.filter(status__in=["READY", "RUNNING"]).exists(),
        timeout=30,
        what="the order's tasks finished",
    )
    assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.EMAIL).count() == 1
    assert _subjects(mail_dir).count(order.number) == 1


async def _json(receiving) -> dict:
    return json.loads(await receiving)


def _subjects(mails: Path) -> list[str]:
    found = []
    for path in mails.glob("*.log"):
        found += re.findall(r"payment received for order (\S+)", path.read_text(errors="replace"))
    return found


def test_a_confirm_on_a_racing_a_webhook_on_b_makes_one_transition(cluster_factory, banq_emulator):
    cluster = cluster_factory()
    a, b = cluster.stores
    banq_emulator.set_faults(drop_deliveries=1.0)
    for _ in range(5):
        shopper, public_id, attempt = _order_with_link(a)
        paid = requests.post(
            f"{attempt.url}/pay",
            data={"email": "shopper@example.test", "password": "demo", "origin": a.url},
            timeout=10,
        )
        assert "successPayment" in paid.text  # the widget reports success to the page
        event = {"action": "completed", "resourceType": "Payment"}
        body = json.dumps({**event, "resourceId": attempt.banq_payment_id})
        start = threading.Barrier(2)

        def confirm(shopper=shopper, public_id=public_id, start=start):
            start.wait(timeout=10)
            return shopper.confirm(public_id)

        def webhook(body=body, start=start):
            start.wait(timeout=10)
            return requests.post(_webhook_url(b), data=body, timeout=30)

        with ThreadPoolExecutor(2) as pool:
            confirmed, delivered = pool.submit(confirm), pool.submit(webhook)
            confirmed, delivered = confirmed.result(), delivered.result()

        assert confirmed.status_code == 200, confirmed.text
        assert delivered.status_code == 200, delivered.text
        assert Order.objects.get(public_id=public_id).status == Order.Status.PAID
        rows = _paid_rows(public_id)
        assert len(rows) == 1, rows
        assert rows[0] in (OrderEvent.Source.CONFIRM, OrderEvent.Source.WEBHOOK)


def test_all_processes_share_one_banq_token(cluster_factory, banq_emulator):
    cluster = cluster_factory()
    shoppers = []
    for n in range(8):
        shopper = Shopper(cluster.stores[n % 2].url)
        public_id, _ = shopper.place_order(product_create(price="3.00"))
        shoppers.append((shopper, public_id))
    start = threading.Barrier(len(shoppers))

    def pay(pair):
        shopper, public_id = pair
        start.wait(timeout=10)
        return shopper.payment_link(public_id).status_code

    # Eight first calls to banq at the same moment, four on each store process.
    with ThreadPoolExecutor(len(shoppers)) as pool:
        assert list(pool.map(pay, shoppers)) == [200] * len(shoppers)
    # Every payment is due for the workers' sweep now, and each worker sweeps at once.
    BanqPayment.objects.update(next_check_at=timezone.now())
    for _ in cluster.workers:
        banq_sweep.enqueue()
    swept = OrderEvent.objects.filter(kind=OrderEvent.Kind.RECHECK, source=OrderEvent.Source.SWEEP)
    wait_for(
        lambda: swept.values("order").distinct().count() == len(shoppers),
        timeout=30,
        what="the workers asked banq about every payment",
    )

    assert banq_emulator.state()["counts"]["tokens"] == 1
