"""A worker killed with kill -9 in the middle of 20 payments: another worker sends every
e-mail within 90 seconds, each exactly once (issue 21). The real store, two real task workers
(``manage.py worker``, default heartbeat and lease), the real banq emulator and a real SMTP
server, over sockets."""

from __future__ import annotations

import time

import pytest
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from banq.services import payment_link_generate
from orders.models import Order, OrderEvent
from tests.factories import order_create

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PAYMENTS = 20
WITHIN = 90  # seconds: every e-mail, after its payment


def _wait_for(what, *, timeout: float, why: str):
    deadline = time.monotonic() + timeout
    while not (found := what()):
        assert time.monotonic() < deadline, why
        time.sleep(0.1)
    return found


def test_kill_9_of_the_worker_mid_burst_sends_every_e_mail_within_90_s_exactly_once(
    emulator_store, banq_emulator, emulator_store_env, live_worker_factory, smtp_sink
):
    smtp_sink.stall = 0.3  # each e-mail takes a moment: the kill lands while one is on its way
    env = {**emulator_store_env, "STOREFRONT_URL": emulator_store.url, "EMAIL_URL": smtp_sink.url}
    first = live_worker_factory(env)
    orders = [order_create(total="5.00", email=f"shopper{n}@example.com") for n in range(PAYMENTS)]
    attempts = [payment_link_generate(order=order) for order in orders]
    for attempt in attempts:
        banq_emulator.complete(attempt.banq_payment_id)  # webhook -> store -> paid -> e-mail task

    _wait_for(lambda: len(smtp_sink.delivered()) >= 5, timeout=60, why="no e-mail went out")
    assert smtp_sink.in_data.wait(10), "the worker stopped sending"
    first.kill()
    assert len(smtp_sink.delivered()) < PAYMENTS
    stuck = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, task_path="orders.tasks.order_changed"
    )
    assert stuck.count() == 1  # the e-mail it was sending: claimed by a dead worker
    live_worker_factory(env)

    everyone = {order.email for order in orders}

    def reached() -> set[str]:
        return {r for m in smtp_sink.delivered() for r in m.recipients}

    _wait_for(lambda: everyone <= reached(), timeout=WITHIN + 15, why="e-mails missing")
    _wait_for(lambda: not stuck.exists(), timeout=10, why="the dead worker's task never ran")
    time.sleep(1)  # anything sent twice would be on its way by now

    delivered = smtp_sink.delivered()
    assert sorted(r for m in delivered for r in m.recipients) == sorted(everyone)  # exactly once
    assert len({m.message_id for m in delivered}) == PAYMENTS
    for order in Order.objects.filter(pk__in=[o.pk for o in orders]):
        (message,) = [m for m in delivered if order.email in m.recipients]
        assert order.number in message.subject
        assert message.at - order.paid_at.timestamp() < WITHIN
        assert OrderEvent.objects.filter(order=order, kind=OrderEvent.Kind.EMAIL).count() == 1
