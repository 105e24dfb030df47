"""pytest fixtures and helpers for mocking banq's HTTP API with ``responses``.

``banq_api`` yields ``responses.RequestsMock(assert_all_requests_are_fired=True)`` with the token
endpoint (``settings.BANQ_TOKEN_URL``) already registered; register the API answers a test expects
with the helpers below. The pre-registered token answer is exempt from the "all fired" assertion
(it is removed at teardown when no call used it); every other registered answer must be called.

    def test_something(banq_api):
        add_payment(banq_api, payment_payload(status="completed"))
        ...
        assert token_calls(banq_api) == 1

JSON payload files live in tests/fixtures/banq/; ``load_fixture(name)`` reads one with amounts as
``Decimal``. Bodies are encoded with ``banq.payloads.dumps`` so that amounts are exact JSON numbers.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses
from django.conf import settings

from banq import payloads

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "banq"
TEST_ACCESS_TOKEN = "test-open-api-token-0123456789"
PAYMENT_ID = "0b7f7a52-6c1e-4d0f-9a51-2f8e4c1d9b10"
TRANSACTION_GUID = "9c2e4f10-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def load_fixture(name: str) -> Any:
    """tests/fixtures/banq/<name>.json decoded like the client decodes (amounts as Decimal)."""
    filename = name if name.endswith(".json") else f"{name}.json"
    return json.loads((FIXTURES_DIR / filename).read_text(), parse_float=Decimal)


def fixture_text(name: str) -> str:
    filename = name if name.endswith(".json") else f"{name}.json"
    return (FIXTURES_DIR / filename).read_text()


def banq_api_url(path: str = "") -> str:
    """The absolute URL of an Open API path under the current ``settings.BANQ_API_URL``."""
    if path and not path.startswith("/"):
        path = "/" + path
    return settings.BANQ_API_URL.rstrip("/") + path


def banq_token_url() -> str:
    return settings.BANQ_TOKEN_URL


def json_body(data: Any) -> str:
    """Encode a payload: Decimal amounts become exact JSON numbers (via ``banq.payloads.dumps``)."""
    return payloads.dumps(data) if isinstance(data, Mapping) else json.dumps(data)


# --- payload builders (canonical shapes, as the emulator answers) ------------------------------


def token_payload(*, access_token: str = TEST_ACCESS_TOKEN, expires_in: int | None = 86400):
    data: dict[str, Any] = {"access_token": access_token, "token_type": "Bearer"}
    if expires_in is not None:
        data["expires_in"] = expires_in
    return data


def paid_link_payload(
    *, payment_id: str = PAYMENT_ID, url: str = "https://link.banq.com/4x1t09WiOjb"
) -> dict[str, Any]:
    return {"data": {"id": payment_id, "url": url}}


def payment_payload(
    *,
    payment_id: str = PAYMENT_ID,
    status: str = "created",
    funds: Decimal | str = Decimal("19.99"),
    external_order_code: str = "SF-0001",
    destination_guid: str | None = None,
    fail_reason: str | None = None,
    wrapped: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """A payment as banq (the emulator) answers it; ``wrapped`` puts it under ``data``."""
    body: dict[str, Any] = {
        "id": payment_id,
        "status": status,
        "funds": Decimal(funds),
        "comment": f"Order {external_order_code}",
        "externalOrderCode": external_order_code,
        "destination": {"banqGuid": destination_guid or settings.BANQ_MERCHANT_GUID},
        "recurrence": {"frequency": "once", "startDate": None, "endDate": None},
        "url": "https://link.banq.com/4x1t09WiOjb",
        "createdAt": "2026-11-25T09:00:00Z",
        "completedAt": "2026-11-25T09:05:00Z" if status == "completed" else None,
        "failReason": fail_reason,
    }
    body.update(extra)
    return {"data": body} if wrapped else body


def transaction_payload(
    *,
    guid: str = TRANSACTION_GUID,
    payment_guid: str = PAYMENT_ID,
    status: str = "completed",
    funds: Decimal | str = Decimal("19.99"),
    external_order_code: str = "SF-0001",
    fail_reason: str | None = None,
) -> dict[str, Any]:
    return {
        "data": {
            "guid": guid,
            "paymentGuid": payment_guid,
            "externalOrderCode": external_order_code,
            "status": status,
            "funds": Decimal(funds),
            "failReason": fail_reason,
        }
    }


def installment_item(
    *,
    guid: str,
    number: int,
    scheduled_date: str,
    status: str = "completed",
    funds: Decimal | str = Decimal("9.90"),
    fail_reason: str | None = None,
    completed_at: str = "2026-11-25T09:05:00Z",
) -> dict[str, Any]:
    """One item of a recurring payment's ``transactions`` (the emulator's canonical shape)."""
    return {
        "guid": guid,
        "status": status,
        "funds": Decimal(funds),
        "failReason": fail_reason,
        "installment": number,
        "scheduledDate": scheduled_date,
        "completedAt": completed_at,
    }


def recurring_payment_payload(
    *,
    payment_id: str = PAYMENT_ID,
    external_order_code: str = "SF-0001",
    funds: Decimal | str = Decimal("9.90"),
    frequency: str = "monthly",
    start_date: str = "2026-11-25",
    end_date: str | None = "2027-10-25",
    transactions: list[dict[str, Any]] | None = None,
    next_installment_date: str | None = None,
    status: str = "completed",
    destination_guid: str | None = None,
) -> dict[str, Any]:
    """A recurring payment as banq (the emulator) answers it: ``recurrence`` with the plan, its
    ``transactions`` (oldest first) and ``nextInstallmentDate``."""
    return payment_payload(
        payment_id=payment_id,
        status=status,
        funds=funds,
        external_order_code=external_order_code,
        destination_guid=destination_guid,
        recurrence={"frequency": frequency, "startDate": start_date, "endDate": end_date},
        transactions=list(transactions or []),
        nextInstallmentDate=next_installment_date,
    )


def installment_transaction_payload(
    item: dict[str, Any], *, payment_id: str = PAYMENT_ID, external_order_code: str = "SF-0001"
) -> dict[str, Any]:
    """``GET /transactions/{guid}`` of a recurring payment's charge (``item`` from
    ``installment_item``)."""
    return {
        "data": {
            "guid": item["guid"],
            "paymentGuid": payment_id,
            "externalOrderCode": external_order_code,
            "status": item["status"],
            "funds": item["funds"],
            "failReason": item["failReason"],
            "installment": item["installment"],
            "scheduledDate": item["scheduledDate"],
            "completedAt": item["completedAt"],
        }
    }


def webhook_config_payload(
    *,
    url: str = "https://shop.example/webhooks/banq/token/payment-status/",
    enabled: bool = True,
    retry_count: int = 5,
    types: tuple[str, ...] = ("payment", "transaction"),
) -> dict[str, Any]:
    return {"url": url, "enabled": enabled, "retryCount": retry_count, "webHookTypes": list(types)}


def user_profile_payload() -> dict[str, Any]:
    return copy.deepcopy(load_fixture("users_me"))


def webhook_notification_payload(
    *,
    action: str = "completed",
    resource_type: str = "Payment",
    resource_id: str = PAYMENT_ID,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "action": action,
        "resourceType": resource_type,
        "resourceId": resource_id,
        "eventId": event_id or f"evt-{uuid.uuid4().hex[:12]}",
        "occurredAt": "2026-11-25T09:05:00Z",
    }


# --- registering answers ----------------------------------------------------------------------


def add_json(
    rsps: responses.RequestsMock,
    method: str,
    path: str,
    data: Any = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> responses.BaseResponse:
    """Register ``method banq_api_url(path)`` answering ``data`` as JSON (Decimal-exact)."""
    return rsps.add(
        method,
        banq_api_url(path),
        body="" if data is None else json_body(data),
        status=status,
        content_type="application/json",
        headers=dict(headers or {}),
    )


def add_paid_link(rsps, data: Any = None, *, status: int = 201, headers=None):
    return add_json(
        rsps,
        "POST",
        "/payments/get-paid-link",
        paid_link_payload() if data is None else data,
        status=status,
        headers=headers,
    )


def add_payment(rsps, data: Any = None, *, payment_id: str | None = None, status: int = 200):
    data = payment_payload() if data is None else data
    if payment_id is None:
        inner = data.get("data", data) if isinstance(data, Mapping) else {}
        payment_id = inner.get("id", PAYMENT_ID)
    return add_json(rsps, "GET", f"/payments/{payment_id}", data, status=status)


def add_transaction(rsps, data: Any = None, *, guid: str = TRANSACTION_GUID, status: int = 200):
    data = transaction_payload(guid=guid) if data is None else data
    return add_json(rsps, "GET", f"/transactions/{guid}", data, status=status)


def token_calls(rsps: responses.RequestsMock) -> int:
    return sum(1 for call in rsps.calls if call.request.url == settings.BANQ_TOKEN_URL)


def api_calls(rsps: responses.RequestsMock) -> list:
    return [call for call in rsps.calls if call.request.url != settings.BANQ_TOKEN_URL]


@pytest.fixture
def banq_api(settings) -> Iterator[responses.RequestsMock]:
    """``responses`` mock of banq with the token endpoint registered. Retries don't sleep."""
    settings.BANQ_RETRY_BACKOFF = 0
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        token = rsps.add(
            responses.POST,
            settings.BANQ_TOKEN_URL,
            body=json.dumps(token_payload()),
            status=200,
            content_type="application/json",
        )
        rsps.banq_token_response = token  # type: ignore[attr-defined]
        yield rsps
        if token.call_count == 0 and token in rsps.registered():
            rsps.remove(token)
