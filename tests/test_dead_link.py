"""A failed link is never handed out again (issue 21): the failure webhooks are lost, and the
shopper presses Pay again 1, 3 and 5 seconds after the link was made; each time banq says the
link failed, and the shopper gets a new one. The real store and the real emulator, over sockets."""

from __future__ import annotations

import time

import pytest

from banq.models import BanqPayment
from orders.models import Order
from tests.factories import product_create
from tests.support.shopper import Shopper

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_link_banq_failed_is_never_handed_out_again_whatever_webhooks_were_lost(
    emulator_store, banq_emulator
):
    banq_emulator.set_faults(drop_deliveries=1.0)
    shopper = Shopper(emulator_store.url)
    public_id, _ = shopper.place_order(product_create())
    url = shopper.payment_link(public_id).json()["data"]["url"]
    made = time.monotonic()
    handed_out = [url]

    for delay in (1, 3, 5):
        banq_emulator.fail(BanqPayment.objects.get(url=url).banq_payment_id)
        time.sleep(max(0.0, made + delay - time.monotonic()))

        answer = shopper.payment_link(public_id)
        made = time.monotonic()

        assert answer.status_code == 200, answer.text
        url = answer.json()["data"]["url"]
        assert url not in handed_out, f"a failed link came back {delay} s after it was made"
        handed_out.append(url)

    assert [p["status"] for p in banq_emulator.payments()] == ["failed"] * 3 + ["created"]
    assert {d["status"] for d in banq_emulator.deliveries()} == {"dropped"}
    order = Order.objects.get(public_id=public_id)
    assert order.status == Order.Status.AWAITING_PAYMENT
