"""Payment-link rate limits single out the abuser: per browser session and per order, with the
client's IP (behind trusted proxies, the address the proxy saw) only as a wide backstop."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
import responses
from django.test import Client

from orders.access import order_signed_url, session_grant_order
from orders.models import Order
from tests.factories import order_create
from tests.support.banq_api import banq_api_url

URL = "/generate-payment-link"
SHOP_IP = "203.0.113.50"  # the proxy, office or NAT every shopper below comes through


@pytest.fixture
def banq_links(banq_api):
    """banq hands out a new link for every call."""

    def new_link(request):
        code = uuid.uuid4().hex[:11]
        data = {"data": {"id": str(uuid.uuid4()), "url": f"https://link.banq.com/{code}"}}
        return 201, {}, json.dumps(data)

    banq_api.add_callback(
        responses.POST, banq_api_url("/payments/get-paid-link"), callback=new_link
    )
    return banq_api


def shopper_with_order(**client_kwargs) -> tuple[Client, Order]:
    order = order_create(total="9.90")
    client = Client(REMOTE_ADDR=SHOP_IP, **client_kwargs)
    session = client.session
    session_grant_order(session=session, order=order)
    session.save()
    return client, order


def pay(client: Client, order: Order):
    return client.post(
        URL, data=json.dumps({"orderId": str(order.public_id)}), content_type="application/json"
    )


@pytest.mark.django_db
def test_one_shopper_s_calls_do_not_block_the_next_shopper_on_the_same_ip(banq_links, settings):
    settings.BANQ_LINK_RATE_LIMIT = 20
    greedy, order = shopper_with_order()

    greedy_answers = [pay(greedy, order).status_code for _ in range(21)]
    other, other_order = shopper_with_order()

    assert greedy_answers == [200] * 20 + [429]
    assert pay(other, other_order).status_code == 200


@pytest.mark.django_db
def test_a_hundred_shoppers_behind_one_ip_all_get_their_links(banq_links, settings):
    settings.BANQ_LINK_RATE_LIMIT = 20
    shoppers = [shopper_with_order() for _ in range(100)]

    answers = [pay(client, order).status_code for client, order in shoppers]

    assert answers == [200] * 100


@pytest.mark.django_db
def test_an_order_has_its_own_limit_whatever_the_session(banq_links, settings):
    settings.BANQ_LINK_RATE_LIMIT = 3
    owner, order = shopper_with_order()
    other_device = Client(REMOTE_ADDR="198.51.100.20")
    assert other_device.get(order_signed_url(order=order)).status_code == 200

    answers = [pay(c, order).status_code for c in (owner, owner, other_device, other_device)]

    assert answers == [200, 200, 200, 429]


@pytest.mark.django_db
def test_calls_for_an_order_someone_cannot_pay_do_not_use_up_its_limit(banq_links, settings):
    settings.BANQ_LINK_RATE_LIMIT = 2
    owner, order = shopper_with_order()
    for _ in range(5):  # a stranger who knows (or guesses) the id: 404, and no effect
        assert pay(Client(REMOTE_ADDR="198.51.100.30"), order).status_code == 404

    assert pay(owner, order).status_code == 200


@pytest.mark.django_db
def test_the_ip_backstop_stops_a_script_without_cookies(settings):
    settings.BANQ_LINK_RATE_LIMIT_IP = 5
    order = order_create()

    answers = [pay(Client(REMOTE_ADDR=SHOP_IP), order).status_code for _ in range(7)]

    assert answers == [404] * 5 + [429] * 2


def _script_calls(store, forwarded_for: str, n: int) -> list[int]:
    """A script with no session (a new browser each time), through a proxy that says which
    address it saw."""
    answers = []
    for _ in range(n):
        browser = requests.Session()
        browser.get(store.url + "/admin/login/", timeout=10)  # a CSRF cookie, no session
        answers.append(
            browser.post(
                store.url + URL,
                json={"orderId": str(uuid.uuid4())},
                headers={
                    "X-CSRFToken": browser.cookies.get("csrftoken", ""),
                    "X-Forwarded-For": forwarded_for,
                },
                timeout=10,
            ).status_code
        )
    return answers


@pytest.mark.integration
def test_behind_a_trusted_proxy_each_client_has_its_own_ip_bucket(live_store_factory):
    """The real server: the edge reads the client from the proxy's X-Forwarded-For."""
    store = live_store_factory({"DJANGO_TRUSTED_PROXIES": "1", "BANQ_LINK_RATE_LIMIT_IP": "2"})

    assert _script_calls(store, "203.0.113.1", 3) == [404, 404, 429]
    assert _script_calls(store, "6.6.6.6, 203.0.113.2", 1) == [404]


@pytest.mark.integration
def test_without_trusted_proxies_x_forwarded_for_changes_nothing(live_store_factory):
    store = live_store_factory({"BANQ_LINK_RATE_LIMIT_IP": "2"})

    assert _script_calls(store, "203.0.113.1", 2) == [404, 404]
    assert _script_calls(store, "203.0.113.2", 1) == [429]
