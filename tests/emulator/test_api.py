"""The emulator's banq API paths over real HTTP."""

from __future__ import annotations

import base64
import json
import re

import pytest
import requests

from tests.emulator.conftest import (
    ACCOUNT_SPACE_ID,
    MERCHANT_BODY,
    MERCHANT_GUID,
    OPEN_API_BODY,
    auth,
    create_link,
    get_token,
)

pytestmark = pytest.mark.integration

FOREIGN_GUID = "0e2d4c6b-8a9f-4b1c-9d3e-5f7a6b8c9d0e"


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_token_with_good_credentials_returns_bearer_jwt(banq_emulator):
    response = requests.post(banq_emulator.token_url, json=OPEN_API_BODY, timeout=5)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    claims = _claims(body["access_token"])
    assert claims["aud"] == "https://banq.com/open/api/"
    assert claims["sub"] == "api-user@emulator.banq.test"
    assert claims["exp"] > claims["iat"]


def test_token_with_wrong_password_is_auth0_invalid_grant(banq_emulator):
    response = requests.post(
        banq_emulator.token_url, json={**OPEN_API_BODY, "password": "nope"}, timeout=5
    )

    assert response.status_code == 403
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Wrong email or password.",
    }
    assert "nope" not in response.text


def test_token_accepts_old_client_username_field_names(banq_emulator):
    body = {k: v for k, v in OPEN_API_BODY.items() if k not in ("username", "password")}
    body.update(client_username=OPEN_API_BODY["username"], client_password="emulator-password")

    response = requests.post(banq_emulator.token_url, json=body, timeout=5)

    assert response.status_code == 200
    assert response.json()["access_token"]


def test_token_accepts_form_encoding(banq_emulator):
    response = requests.post(banq_emulator.token_url, data=OPEN_API_BODY, timeout=5)

    assert response.status_code == 200


def test_token_with_unknown_client_or_wrong_audience_is_refused(banq_emulator):
    unknown = requests.post(
        banq_emulator.token_url, json={**OPEN_API_BODY, "client_id": "x"}, timeout=5
    )
    wrong_aud = requests.post(
        banq_emulator.token_url,
        json={**OPEN_API_BODY, "audience": "https://banq.com/api"},
        timeout=5,
    )
    bad_grant = requests.post(
        banq_emulator.token_url,
        json={**OPEN_API_BODY, "grant_type": "client_credentials"},
        timeout=5,
    )

    assert unknown.status_code == 401
    assert wrong_aud.status_code == 403
    assert bad_grant.status_code == 403
    assert bad_grant.json()["error"] == "unsupported_grant_type"


def test_merchant_user_token_reads_users_me(banq_emulator):
    token = get_token(banq_emulator, MERCHANT_BODY)
    assert _claims(token)["aud"] == "https://banq.com/api"

    response = requests.get(
        f"{banq_emulator.api_url}/users/me",
        params={"include": "accountSpaces,banqAccounts"},
        headers=auth(token),
        timeout=5,
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["email"] == "merchant@emulator.banq.test"
    assert data["accountSpaces"][0]["id"] == ACCOUNT_SPACE_ID
    assert {"id", "name", "platformId"} <= set(data["accountSpaces"][0])
    guids = [a["banqGuid"] for a in data["banqAccounts"]]
    assert MERCHANT_GUID in guids
    assert len(guids) == 2
    assert all(a["accountSpaceId"] == ACCOUNT_SPACE_ID for a in data["banqAccounts"])
    assert FOREIGN_GUID not in guids


def test_users_me_refuses_an_open_api_token(banq_emulator, api_token):
    response = requests.get(f"{banq_emulator.api_url}/users/me", headers=auth(api_token), timeout=5)

    assert response.status_code == 403


def test_open_api_path_refuses_a_merchant_user_token(banq_emulator):
    token = get_token(banq_emulator, MERCHANT_BODY)

    response = create_link(banq_emulator, token)

    assert response.status_code == 403


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer garbage", "Basic abc", "Bearer a.b.c"],
)
def test_api_without_a_valid_bearer_token_is_401(banq_emulator, header):
    headers = {"Authorization": header} if header else {}

    response = requests.get(
        f"{banq_emulator.api_url}/payments/00000000-0000-4000-8000-000000000000",
        headers=headers,
        timeout=5,
    )

    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message"}


def test_get_paid_link_returns_201_with_id_url_and_location(banq_emulator, api_token):
    response = create_link(banq_emulator, api_token)

    assert response.status_code == 201
    data = response.json()["data"]
    assert set(data) == {"id", "url"}
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", data["id"]
    )
    assert re.fullmatch(re.escape(banq_emulator.url) + r"/link/[0-9A-Za-z]{11}", data["url"])
    assert response.headers["Location"] == f"{banq_emulator.api_url}/payments/{data['id']}"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"destination": None}, "missing_destination"),
        ({"destination": {}}, "missing_destination"),
        (
            {"destination": {"banqGuid": "11111111-2222-4333-8444-555555555555"}},
            "unknown_destination",
        ),
        ({"funds": 0}, "invalid_funds"),
        ({"funds": -5}, "invalid_funds"),
        ({"funds": 1.999}, "invalid_funds"),
        ({"funds": "abc"}, "invalid_funds"),
        ({"funds": True}, "invalid_funds"),
        ({"funds": None}, "invalid_funds"),
        ({"frequency": "daily"}, "invalid_frequency"),
        ({"startDate": "15/06/2021"}, "invalid_date"),
        ({"startDate": "2021-02-30"}, "invalid_date"),
        ({"startDate": "2021-06-15", "endDate": "2021-06-14"}, "invalid_date"),
    ],
)
def test_get_paid_link_validation_answers_400(banq_emulator, api_token, overrides, code):
    response = create_link(banq_emulator, api_token, **overrides)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_get_paid_link_with_bad_json_is_400(banq_emulator, api_token):
    response = requests.post(
        f"{banq_emulator.api_url}/payments/get-paid-link",
        data=b"{not json",
        headers={**auth(api_token), "Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_get_paid_link_accepts_recurring_with_dates(banq_emulator, api_token):
    response = create_link(
        banq_emulator, api_token, frequency="monthly", startDate="2030-01-01", endDate="2030-12-01"
    )
    payment_id = response.json()["data"]["id"]

    payment = requests.get(
        f"{banq_emulator.api_url}/payments/{payment_id}", headers=auth(api_token), timeout=5
    ).json()["data"]

    assert response.status_code == 201
    assert payment["recurrence"] == {
        "frequency": "monthly",
        "startDate": "2030-01-01",
        "endDate": "2030-12-01",
    }


def test_get_payment_returns_created_payment_with_exact_funds(banq_emulator, api_token):
    link = create_link(banq_emulator, api_token, funds=19.9).json()["data"]

    response = requests.get(
        f"{banq_emulator.api_url}/payments/{link['id']}", headers=auth(api_token), timeout=5
    )

    assert response.status_code == 200
    assert '"funds": 19.90' in response.text
    data = response.json()["data"]
    assert data["id"] == link["id"]
    assert data["status"] == "created"
    assert data["comment"] == "Order 42: a teapot"
    assert data["externalOrderCode"] == "ORD-42"
    assert data["destination"] == {"banqGuid": MERCHANT_GUID}
    assert data["recurrence"] == {"frequency": "once", "startDate": None, "endDate": None}
    assert data["url"] == link["url"]
    assert data["createdAt"]
    assert data["completedAt"] is None
    assert data["failReason"] is None


def test_get_paid_link_to_a_foreign_merchant_is_allowed(banq_emulator, api_token):
    response = create_link(banq_emulator, api_token, destination={"banqGuid": FOREIGN_GUID})

    assert response.status_code == 201


def test_unknown_payment_and_transaction_are_404(banq_emulator, api_token):
    missing = "00000000-0000-4000-8000-000000000000"
    payment = requests.get(
        f"{banq_emulator.api_url}/payments/{missing}", headers=auth(api_token), timeout=5
    )
    txn = requests.get(
        f"{banq_emulator.api_url}/transactions/{missing}", headers=auth(api_token), timeout=5
    )

    assert payment.status_code == 404
    assert txn.status_code == 404
    assert payment.json()["error"]["code"] == "not_found"


def test_completion_is_reflected_in_payment_and_transaction(banq_emulator, api_token, payment_id):
    banq_emulator.complete(payment_id)

    payment = requests.get(
        f"{banq_emulator.api_url}/payments/{payment_id}", headers=auth(api_token), timeout=5
    ).json()["data"]
    guid = banq_emulator.payment(payment_id)["transactionGuid"]
    txn = requests.get(
        f"{banq_emulator.api_url}/transactions/{guid}", headers=auth(api_token), timeout=5
    )

    assert payment["status"] == "completed"
    assert payment["completedAt"]
    assert txn.status_code == 200
    assert '"funds": 19.90' in txn.text
    assert txn.json()["data"] == {
        "guid": guid,
        "paymentGuid": payment_id,
        "externalOrderCode": "ORD-42",
        "status": "completed",
        "funds": 19.9,
        "failReason": None,
    }


def test_failure_is_reflected_with_reason(banq_emulator, api_token, payment_id):
    banq_emulator.fail(payment_id, reason="TierPlanLimits")

    payment = requests.get(
        f"{banq_emulator.api_url}/payments/{payment_id}", headers=auth(api_token), timeout=5
    ).json()["data"]
    guid = banq_emulator.payment(payment_id)["transactionGuid"]
    txn = requests.get(
        f"{banq_emulator.api_url}/transactions/{guid}", headers=auth(api_token), timeout=5
    ).json()["data"]

    assert payment["status"] == "failed"
    assert payment["failReason"] == "TierPlanLimits"
    assert txn["status"] == "failed"
    assert txn["failReason"] == "TierPlanLimits"


def test_settling_twice_is_a_409(banq_emulator, payment_id):
    banq_emulator.complete(payment_id)

    response = requests.post(
        f"{banq_emulator.control_url}/payments/{payment_id}/fail", json={}, timeout=5
    )

    assert response.status_code == 409
    assert banq_emulator.payment(payment_id)["status"] == "completed"


def test_webhook_config_get_post_patch(banq_emulator, api_token):
    url = f"{banq_emulator.api_url}/account-spaces/{ACCOUNT_SPACE_ID}/webhook-config"
    config = {
        "url": "http://127.0.0.1:9/hook",
        "enabled": True,
        "retryCount": 5,
        "webHookTypes": ["payment", "transaction"],
    }

    missing = requests.get(url, headers=auth(api_token), timeout=5)
    created = requests.post(url, json=config, headers=auth(api_token), timeout=5)
    replaced = requests.post(
        url, json={**config, "retryCount": 2}, headers=auth(api_token), timeout=5
    )
    patched = requests.patch(
        url,
        json={"enabled": False, "webHookTypes": ["payment"]},
        headers=auth(api_token),
        timeout=5,
    )
    read = requests.get(url, headers=auth(api_token), timeout=5)

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert created.status_code == 201
    assert created.json()["data"] == config
    assert replaced.status_code == 200
    assert replaced.json()["data"]["retryCount"] == 2
    assert patched.status_code == 200
    assert read.json()["data"] == {
        "url": "http://127.0.0.1:9/hook",
        "enabled": False,
        "retryCount": 2,
        "webHookTypes": ["payment"],
    }


@pytest.mark.parametrize(
    "body",
    [
        {"enabled": True},
        {"url": "ftp://x/y"},
        {"url": "http://x/y", "retryCount": "5"},
        {"url": "http://x/y", "webHookTypes": ["nope"]},
        {"url": "http://x/y", "enabled": "yes"},
        {"url": "http://x/y", "webhookTypes": ["payment"]},
    ],
)
def test_webhook_config_validation_is_400(banq_emulator, api_token, body):
    url = f"{banq_emulator.api_url}/account-spaces/{ACCOUNT_SPACE_ID}/webhook-config"

    response = requests.post(url, json=body, headers=auth(api_token), timeout=5)

    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message"}


def test_webhook_config_patch_without_config_and_unknown_space(banq_emulator, api_token):
    base = f"{banq_emulator.api_url}/account-spaces"
    patch = requests.patch(
        f"{base}/{ACCOUNT_SPACE_ID}/webhook-config",
        json={"enabled": False},
        headers=auth(api_token),
        timeout=5,
    )
    unknown = requests.get(
        f"{base}/00000000-0000-4000-8000-000000000000/webhook-config",
        headers=auth(api_token),
        timeout=5,
    )

    assert patch.status_code == 404
    assert unknown.status_code == 404


def test_reset_clears_payments_and_tokens(banq_emulator, api_token, payment_id):
    banq_emulator.reset()

    response = requests.get(
        f"{banq_emulator.api_url}/payments/{payment_id}", headers=auth(api_token), timeout=5
    )

    assert response.status_code == 401
    assert banq_emulator.payments() == []


def test_reset_with_seed_gives_deterministic_ids(banq_emulator):
    banq_emulator.reset(seed=7)
    first = create_link(banq_emulator, get_token(banq_emulator)).json()["data"]
    banq_emulator.reset(seed=7)
    second = create_link(banq_emulator, get_token(banq_emulator)).json()["data"]

    assert first == second
