"""POST /orders/<id>/confirm: the shopper's "I paid" is checked with banq; while banq can't be
asked the page keeps confirming and says banq can't be reached; a look-up in flight is shared."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from banq.models import BanqPayment
from banq.settlement import payment_recheck
from orders.access import session_grant_order
from orders.models import Order
from tests.support.banq_api import add_payment, api_calls, payment_payload
from tests.webhooks.support import order_with_attempt


def owner_client(order: Order) -> Client:
    client = Client()
    session = client.session
    session_grant_order(session=session, order=order)
    session.save()
    return client


def confirm(client: Client, order: Order) -> dict:
    answer = client.post(f"/orders/{order.public_id}/confirm")
    assert answer.status_code == 200
    return answer.json()


@pytest.mark.django_db
def test_while_banq_is_down_the_page_keeps_confirming_and_says_banq_cant_be_reached(banq_api):
    order, attempt = order_with_attempt()
    add_payment(banq_api, {"error": "down"}, payment_id=attempt.banq_payment_id, status=503)
    client = owner_client(order)

    first = confirm(client, order)
    again = confirm(client, order)  # within BANQ_RECHECK_MIN_INTERVAL: the failure stands

    for body in (first, again):
        assert (body["paid"], body["confirming"], body["banq_reachable"]) == (False, True, False)
        assert body["states"] == ["awaiting_payment", "payable", "confirming", "unreachable"]
    assert len(api_calls(banq_api)) == 1
    page = client.get(f"/orders/{order.public_id}/").content.decode()
    assert "banq can't be reached right now." in page


@pytest.mark.django_db(transaction=True)
def test_a_confirm_shares_the_answer_of_the_look_up_in_flight(banq_api):
    order, attempt = order_with_attempt()
    BanqPayment.objects.filter(pk=attempt.pk).update(check_claimed_at=timezone.now())

    add_payment(
        banq_api,
        payment_payload(status="completed", funds=order.total, external_order_code=order.number),
    )

    def the_sweep_records_the_payment() -> None:
        time.sleep(0.3)  # while the confirm waits for this look-up
        payment_recheck(attempt=attempt, source="sweep")
        connection.close()  # this thread's own

    other = threading.Thread(target=the_sweep_records_the_payment)
    other.start()
    body = confirm(owner_client(order), order)
    other.join()

    assert (body["status"], body["paid"], body["banq_reachable"]) == ("paid", True, True)
    assert len(api_calls(banq_api)) == 1  # the sweep's look-up only
