"""POST /generate-payment-link: access, CSRF, body parsing, error answers, rate limit."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from banq.models import BanqPayment
from orders.access import order_signed_url, session_grant_order
from orders.models import Order
from tests.factories import order_create
from tests.support.banq_api import PAYMENT_ID, add_json, add_paid_link, api_calls

pytestmark = pytest.mark.django_db

URL = "/generate-payment-link"
LINK = "https://link.banq.com/4x1t09WiOjb"


def owner_client(order: Order, **kwargs) -> Client:
    client = Client(**kwargs)
    session = client.session
    session_grant_order(session=session, order=order)
    session.save()
    return client


def post(client: Client, body, url: str = URL, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json", **extra)


def error_of(response) -> dict:
    payload = response.json()
    assert set(payload) == {"error"}
    assert set(payload["error"]) == {"code", "message"}
    return payload["error"]


def test_url_name_and_both_spellings():
    assert reverse("banq:generate-payment-link") == URL


@pytest.mark.parametrize("url", [URL, URL + "/"])
def test_owner_gets_the_link(banq_api, url):
    order = order_create(total="19.99")
    add_paid_link(banq_api)

    response = post(owner_client(order), {"orderId": str(order.public_id)}, url=url)

    assert response.status_code == 200
    assert response.json() == {"data": {"url": LINK}}
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert BanqPayment.objects.get(order=order).banq_payment_id == PAYMENT_ID


def test_tampered_funds_and_comment_change_nothing(banq_api):
    order = order_create(total="19.99")
    add_paid_link(banq_api)

    response = post(
        owner_client(order),
        {"orderId": str(order.public_id), "funds": 0.01, "comment": "free stuff"},
    )

    assert response.status_code == 200
    sent = json.loads(api_calls(banq_api)[0].request.body, parse_float=Decimal)
    assert sent["funds"] == Decimal("19.99")
    assert "free stuff" not in sent["comment"]
    assert BanqPayment.objects.get(order=order).funds == Decimal("19.99")


def test_repeated_clicks_reuse_one_banq_payment(banq_api):
    order = order_create(total="19.99")
    add_paid_link(banq_api)
    client = owner_client(order)

    first = post(client, {"orderId": str(order.public_id)})
    second = post(client, {"orderId": str(order.public_id)})

    assert first.json() == second.json() == {"data": {"url": LINK}}
    assert len(api_calls(banq_api)) == 1


def test_signed_link_visitor_may_pay(banq_api):
    order = order_create(total="19.99")
    add_paid_link(banq_api)
    client = Client()
    assert client.get(order_signed_url(order=order)).status_code == 200

    response = post(client, {"orderId": str(order.public_id)})

    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        "{}",
        '{"orderId": ""}',
        '{"orderId": 42}',
        '{"orderId": ["x"]}',
        "",
    ],
)
def test_malformed_bodies_are_400(banq_api, body):
    order = order_create()
    response = post(owner_client(order), body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_form_encoded_body_is_400(banq_api):
    order = order_create()
    response = owner_client(order).post(URL, {"orderId": str(order.public_id)})
    assert response.status_code == 400


def test_unknown_and_foreign_orders_are_the_same_404(banq_api):
    order = order_create()
    stranger = Client()
    unknown = post(stranger, {"orderId": "0b7f7a52-6c1e-4d0f-9a51-2f8e4c1d9b10"})
    foreign = post(stranger, {"orderId": str(order.public_id)})
    garbage = post(stranger, {"orderId": "not-a-uuid"})

    assert unknown.status_code == foreign.status_code == garbage.status_code == 404
    assert error_of(unknown) == error_of(foreign) == error_of(garbage)
    assert api_calls(banq_api) == []


def test_a_session_that_owns_an_order_that_is_gone_gets_the_same_404(banq_api):
    order = order_create()
    client = owner_client(order)
    Order.objects.filter(pk=order.pk).delete()

    response = post(client, {"orderId": str(order.public_id)})

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert api_calls(banq_api) == []


def test_the_link_reads_the_order_once_under_its_lock_and_a_stranger_not_at_all(banq_api):
    order = order_create(total="19.99")
    add_paid_link(banq_api)
    owner, stranger = owner_client(order), Client()

    with CaptureQueriesContext(connection) as by_stranger:
        refused = post(stranger, {"orderId": str(order.public_id)})
    with CaptureQueriesContext(connection) as by_owner:
        answer = post(owner, {"orderId": str(order.public_id)})

    assert (refused.status_code, answer.status_code) == (404, 200)
    assert not [q for q in by_stranger if 'FROM "orders_order"' in q["sql"]]
    reads = [q["sql"] for q in by_owner if q["sql"].startswith('SELECT "orders_order"')]
    assert len(reads) == 2  # locked before the banq call, and again to save the link
    assert all("FOR UPDATE" in sql for sql in reads) or connection.vendor == "sqlite"


@pytest.mark.parametrize(
    ("status", "paid", "message"),
    [
        (Order.Status.PAID, True, "This order is already paid."),
        (Order.Status.CANCELLED, False, "This order was cancelled and can no longer be paid."),
        (Order.Status.EXPIRED, False, "This order has expired. Please place a new order."),
    ],
)
def test_unpayable_order_is_409(banq_api, status, paid, message):
    order = order_create(status=status, paid_at=timezone.now() if paid else None)
    response = post(owner_client(order), {"orderId": str(order.public_id)})
    assert response.status_code == 409
    assert error_of(response) == {"code": "order_not_payable", "message": message}
    assert api_calls(banq_api) == []


@pytest.mark.parametrize("banq_status", [400, 500, 503])
def test_banq_failure_is_502_with_a_shopper_message(banq_api, banq_status, settings):
    settings.BANQ_RETRIES = 0
    order = order_create()
    add_json(
        banq_api,
        "POST",
        "/payments/get-paid-link",
        {"error": {"code": "x", "message": "internal detail"}},
        status=banq_status,
    )
    response = post(owner_client(order), {"orderId": str(order.public_id)})
    assert response.status_code == 502
    error = error_of(response)
    assert error["message"] == (
        "The payment could not be started; nothing was charged. Please try again."
    )
    assert "internal detail" not in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


def test_banq_refusing_our_credentials_is_502(banq_api):
    banq_api.replace(
        "POST", banq_api.banq_token_response.url, status=403, json={"error": "invalid_grant"}
    )
    order = order_create()
    response = post(owner_client(order), {"orderId": str(order.public_id)})
    assert response.status_code == 502


def test_missing_configuration_is_502_not_500(banq_api, settings):
    settings.BANQ_MERCHANT_GUID = ""
    order = order_create()
    response = post(owner_client(order), {"orderId": str(order.public_id)})
    assert response.status_code == 502


def test_csrf_is_enforced(banq_api):
    order = order_create()
    client = owner_client(order, enforce_csrf_checks=True)
    response = post(client, {"orderId": str(order.public_id)})
    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"
    assert api_calls(banq_api) == []


def test_csrf_token_header_is_accepted(banq_api):
    order = order_create()
    add_paid_link(banq_api)
    client = owner_client(order, enforce_csrf_checks=True)
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    response = post(client, {"orderId": str(order.public_id)}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_other_methods_are_405_json(method):
    response = getattr(Client(), method)(URL)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_session_rate_limit_is_429_with_retry_after(banq_api, settings):
    settings.BANQ_LINK_RATE_LIMIT = 3
    settings.BANQ_LINK_RATE_WINDOW = 60
    order = order_create()
    add_paid_link(banq_api)
    client = owner_client(order)

    answers = [post(client, {"orderId": str(order.public_id)}) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert error_of(answers[-1])["code"] == "rate_limited"
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60


def test_ip_rate_limit_applies_across_sessions(banq_api, settings):
    settings.BANQ_LINK_RATE_LIMIT_IP = 2
    order = order_create()
    statuses = [
        post(Client(), {"orderId": str(order.public_id)}, REMOTE_ADDR="203.0.113.9").status_code
        for _ in range(3)
    ]
    assert statuses == [404, 404, 429]
    other_ip = post(Client(), {"orderId": str(order.public_id)}, REMOTE_ADDR="203.0.113.10")
    assert other_ip.status_code == 404
