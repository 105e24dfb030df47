"""banq.payloads: tolerant shapes, strict money, errors that name keys and never values."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from banq.exceptions import BanqPayloadError
from banq.payloads import (
    Money,
    dumps,
    funds_to_json,
    jsonable,
    loads,
    parse_money,
    parse_payment,
    parse_payment_link,
    parse_token,
    parse_transaction,
    parse_user_profile,
    parse_webhook_config,
    parse_webhook_notification,
)
from tests.support.banq_api import load_fixture

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


# --- money -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("19.99"), "19.99"),
        (Decimal("0.10"), "0.10"),
        (Decimal("0.1"), "0.10"),
        (Decimal("1000000.00"), "1000000.00"),
        (Decimal("5"), "5.00"),
        (7, "7.00"),
    ],
)
def test_funds_to_json_is_exact(amount, text):
    assert funds_to_json(amount) == text


@pytest.mark.parametrize("amount", [Decimal("1.005"), Decimal("-1.00"), Decimal("NaN")])
def test_funds_to_json_refuses_bad_amounts(amount):
    with pytest.raises(ValueError, match="funds"):
        funds_to_json(amount)


def test_funds_to_json_refuses_floats():
    with pytest.raises(TypeError):
        funds_to_json(19.99)


def test_dumps_writes_decimals_as_exact_numbers():
    text = dumps({"funds": Decimal("0.10"), "nested": {"big": Decimal("1000000.00")}, "s": "x"})
    assert text == '{"funds":0.10,"nested":{"big":1000000.00},"s":"x"}'


def test_loads_reads_numbers_as_decimal():
    assert loads(b'{"funds": 19.99}')["funds"] == Decimal("19.99")
    assert type(loads('{"funds": 0.1}')["funds"]) is Decimal


def test_loads_refuses_invalid_json():
    with pytest.raises(BanqPayloadError):
        loads(b"<html>")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("19.99"), Decimal("19.99")),
        ("19.99", Decimal("19.99")),
        (100, Decimal("100.00")),
        (Decimal("19.990"), Decimal("19.99")),
        (19.99, Decimal("19.99")),
        ({"value": "2.50", "currency": "USD"}, Decimal("2.50")),
        (None, None),
    ],
)
def test_parse_money_accepts(value, expected):
    money = parse_money(value)
    assert (money.amount if money is not None else None) == expected


def test_parse_money_keeps_the_currency_of_an_amount_object():
    assert parse_money({"value": "2.50", "currency": "eur"}) == Money(Decimal("2.50"), "EUR")
    assert parse_money("2.50", currency="USD") == Money(Decimal("2.50"), "USD")
    assert parse_money("2.50") == Money(Decimal("2.50"), None)


def test_payment_and_transaction_carry_banq_s_currency():
    payment = parse_payment(
        loads('{"id": "p", "status": "completed", "funds": {"value": 5, "currency": "EUR"}}')
    )
    transaction = parse_transaction(
        loads('{"guid": "t", "status": "completed", "funds": 5, "currency": "gbp"}')
    )
    assert (payment.funds, payment.currency) == (Decimal("5.00"), "EUR")
    assert (transaction.funds, transaction.currency) == (Decimal("5.00"), "GBP")


@pytest.mark.parametrize(
    "value",
    [
        Decimal("19.999"),
        "1.001",
        "abc",
        True,
        [1],
        "-5",
        "Infinity",
        {"value": "1.00", "currency": "dollars"},
    ],
)
def test_parse_money_refuses(value):
    with pytest.raises(BanqPayloadError):
        parse_money(value)


def test_payment_with_three_decimals_is_a_payload_error():
    with pytest.raises(BanqPayloadError, match="more than two decimals"):
        parse_payment(loads('{"id": "p", "status": "completed", "funds": 19.999}'))


# --- token -----------------------------------------------------------------------------------


def test_token_expiry_from_expires_in():
    token = parse_token({"access_token": "abc", "expires_in": 3600}, now=NOW)
    assert token.access_token == "abc"
    assert token.expires_at == NOW + timedelta(hours=1)


def test_token_expiry_from_jwt_exp():
    exp = int((NOW + timedelta(hours=5)).timestamp())
    claims = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    token = parse_token({"access_token": f"h.{claims}.s"}, now=NOW)
    assert token.expires_at == NOW + timedelta(hours=5)


def test_token_expiry_defaults_to_24_hours():
    token = parse_token({"access_token": "opaque"}, now=NOW)
    assert token.expires_at == NOW + timedelta(hours=24)


def test_token_repr_hides_the_token():
    assert "super-secret-token" not in repr(parse_token({"access_token": "super-secret-token"}))


def test_token_without_access_token_names_keys_not_values():
    with pytest.raises(BanqPayloadError) as info:
        parse_token({"token_type": "Bearer", "id_token": "value-xyz"})
    assert "id_token, token_type" in str(info.value)
    assert "value-xyz" not in str(info.value)


# --- payment link ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "location", "url", "payment_id"),
    [
        ({"data": {"url": "https://l/1", "id": "a"}}, None, "https://l/1", "a"),
        ({"url": "https://l/2", "id": "b"}, None, "https://l/2", "b"),
        ({"link": "https://l/3", "guid": "c"}, None, "https://l/3", "c"),
        ({"data": {"link": "https://l/4", "paymentGuid": "d"}}, None, "https://l/4", "d"),
        ({"data": {"url": "https://l/5", "guid": "e"}}, None, "https://l/5", "e"),
        ({"url": "https://l/6", "data": {"paymentGuid": "f"}}, None, "https://l/6", "f"),
        ({"url": "https://l/7", "id": 42}, None, "https://l/7", "42"),
        ({}, "https://l/8", "https://l/8", None),
        (None, "https://l/9", "https://l/9", None),
        ("https://l/10", None, "https://l/10", None),
    ],
)
def test_every_paid_link_shape(data, location, url, payment_id):
    link = parse_payment_link(data, location=location)
    assert (link.url, link.payment_id) == (url, payment_id)


def test_paid_link_without_url_names_keys():
    with pytest.raises(BanqPayloadError) as info:
        parse_payment_link({"id": "x", "status": "created"})
    assert "keys present: id, status" in str(info.value)


def test_paid_link_refuses_non_http_url():
    with pytest.raises(BanqPayloadError):
        parse_payment_link({"url": "javascript:alert(1)"})


# --- payment ---------------------------------------------------------------------------------


def test_payment_fixture_parses():
    payment = parse_payment(load_fixture("payment_completed"))
    assert payment.id == "0b7f7a52-6c1e-4d0f-9a51-2f8e4c1d9b10"
    assert payment.is_completed
    assert not payment.is_failed
    assert payment.funds == Decimal("19.99")
    assert payment.external_order_code == "SF-0001"
    assert payment.destination_guid == "6f1c2b9e-3d4a-4c5b-8e7f-9a0b1c2d3e4f"
    assert payment.frequency == "once"
    assert payment.completed_at == datetime(2026, 11, 25, 9, 5, tzinfo=UTC)
    assert payment.created_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert payment.raw["comment"] == "Order SF-0001 at banq demo store"


def test_payment_bare_object_with_alternative_names():
    payment = parse_payment(
        {
            "guid": "g-1",
            "status": "COMPLETED",
            "amount": "5.00",
            "externalOrderCode": "SF-2",
            "destination": {"banqGuid": "dest"},
            "frequency": "monthly",
            "startDate": "2026-12-01T00:00:00",
            "link": "https://link.banq.com/x",
        }
    )
    assert payment.id == "g-1"
    assert payment.status == "completed"
    assert payment.funds == Decimal("5.00")
    assert payment.frequency == "monthly"
    assert payment.start_date == date(2026, 12, 1)
    assert payment.url == "https://link.banq.com/x"


def test_payment_status_absent_is_empty_string():
    payment = parse_payment({"id": "p"})
    assert payment.status == ""
    assert payment.funds is None
    assert not payment.is_completed


@pytest.mark.parametrize(
    "status", ["failed", "Declined", "rejected", "cancelled", "canceled", "ERROR"]
)
def test_failed_statuses(status):
    assert parse_payment({"id": "p", "status": status}).is_failed


def test_payment_fail_reason():
    payment = parse_payment(load_fixture("payment_failed"))
    assert payment.is_failed
    assert payment.fail_reason == "InsufficientBalance"


def test_payment_without_id_names_keys_only():
    with pytest.raises(BanqPayloadError) as info:
        parse_payment({"data": {"status": "completed", "funds": Decimal("999.99")}})
    assert "funds, status" in str(info.value)
    assert "999.99" not in str(info.value)


# --- transaction, users/me, webhook config, notification ---------------------------------------


def test_transaction_fixture_parses():
    transaction = parse_transaction(load_fixture("transaction_completed"))
    assert transaction.guid == "9c2e4f10-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
    assert transaction.payment_guid == "0b7f7a52-6c1e-4d0f-9a51-2f8e4c1d9b10"
    assert transaction.status == "completed"
    assert transaction.funds == Decimal("19.99")


def test_transaction_without_guid_is_an_error():
    with pytest.raises(BanqPayloadError, match="keys present: status"):
        parse_transaction({"status": "completed"})


def test_user_profile_fixture_parses():
    profile = parse_user_profile(load_fixture("users_me"))
    assert profile.email == "merchant@emulator.banq.test"
    assert profile.account_spaces[0].id == "3a7d9c1e-5b2f-4e8a-9c6d-0f1e2d3c4b5a"
    assert profile.account_spaces[0].platform_id == "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e"
    assert profile.banq_accounts[0].banq_guid == "6f1c2b9e-3d4a-4c5b-8e7f-9a0b1c2d3e4f"
    assert profile.banq_accounts[0].name == "Demo store"
    assert profile.banq_accounts[0].account_space_id == "3a7d9c1e-5b2f-4e8a-9c6d-0f1e2d3c4b5a"


def test_user_profile_with_banqs_nested_in_spaces():
    profile = parse_user_profile(
        {"accountSpaces": [{"id": 7, "name": "S", "banqAccounts": [{"banqGuid": "b"}]}]}
    )
    assert profile.banq_accounts[0].banq_guid == "b"
    assert profile.banq_accounts[0].account_space_id == "7"


def test_webhook_config_fixture_parses():
    config = parse_webhook_config(load_fixture("webhook_config"))
    assert config.enabled is True
    assert config.retry_count == 5
    assert config.types == ("payment", "transaction")
    assert config.url.endswith("/payment-status/")


def test_webhook_config_without_url_is_an_error():
    with pytest.raises(BanqPayloadError, match="enabled"):
        parse_webhook_config({"enabled": True})


def test_webhook_notification_fixture_parses():
    event = parse_webhook_notification(load_fixture("webhook_payment_completed"))
    assert event.action == "completed"
    assert event.resource_type == "payment"
    assert event.resource_id == "0b7f7a52-6c1e-4d0f-9a51-2f8e4c1d9b10"
    assert event.event_id == "evt-5d1c8e2a"
    assert event.raw["occurredAt"] == "2026-11-25T09:05:00Z"


def test_webhook_notification_numeric_resource_id():
    body = {"action": "Completed", "resourceType": "X", "resourceId": 5}
    event = parse_webhook_notification(body)
    assert (event.action, event.resource_type, event.resource_id, event.event_id) == (
        "completed",
        "x",
        "5",
        None,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Payment", "resourceId": "p"},
        {"action": "completed", "resourceId": "p"},
        {"action": "completed", "resourceType": "Payment"},
        {"action": 1, "resourceType": "Payment", "resourceId": "p"},
        {"action": "completed", "resourceType": "Payment", "resourceId": True},
        {"action": "completed", "resourceType": "Payment", "resourceId": {"id": "p"}},
    ],
)
def test_webhook_notification_missing_or_wrong_fields(body):
    with pytest.raises(BanqPayloadError):
        parse_webhook_notification(body)


def test_jsonable_keeps_amounts_exact():
    raw = loads('{"data": {"funds": 19.99, "list": [0.10]}}')
    assert jsonable(raw) == {"data": {"funds": "19.99", "list": ["0.10"]}}
    json.dumps(jsonable(raw))  # storable in a JSONField
