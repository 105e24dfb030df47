"""storefront.serve stops cleanly: a request in flight at SIGTERM gets its answer, and the
process exits promptly (plain daphne cut it short and then hung on the thread it left behind)."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.support.banq_api import webhook_notification_payload
from tests.support.live_store import emulator_store_env
from tests.support.wait import wait_for
from tests.webhooks.support import order_with_attempt
from webhooks.models import WebhookEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TOKEN = "shutdown-webhook-token-0123456789abcdefghij"


@pytest.fixture
def live_store_env(banq_emulator, emulator_settings):
    return emulator_store_env(banq_emulator, emulator_settings, TOKEN)


def test_sigterm_lets_the_request_in_flight_finish_then_exits(live_store, banq_emulator):
    _, attempt = order_with_attempt()
    banq_emulator.set_faults(latency_ms=1500)  # the webhook's re-fetch from banq is slow
    answers: list[int] = []
    answered_at: list[float] = []
    started = threading.Event()

    def deliver() -> None:
        started.set()
        response = requests.post(
            f"{live_store.url}/webhooks/banq/{TOKEN}/payment-status/",
            json=webhook_notification_payload(resource_id=attempt.banq_payment_id),
            timeout=30,
        )
        answered_at.append(time.monotonic())
        answers.append(response.status_code)

    thread = threading.Thread(target=deliver)
    thread.start()
    started.wait(5)
    # The store records the event before it asks banq (which takes 1.5 s): then it is in flight.
    wait_for(WebhookEvent.objects.exists, timeout=5, what="the store recorded the event")
    stopping = time.monotonic()
    live_store.process.terminate()
    live_store.process.wait(timeout=15)
    exited = time.monotonic()
    thread.join(timeout=15)

    assert answers == [200]  # the request finished: an answer, not a cut connection
    assert WebhookEvent.objects.get().processed_at is not None  # settled, not cut short
    assert live_store.process.returncode == 0
    # It exits once its last request is answered (not after a fixed grace period): the time
    # after the answer is the shutdown's own, whatever banq's slowness and the machine's load.
    assert exited - answered_at[0] < 2.5
    assert exited - stopping < 10
