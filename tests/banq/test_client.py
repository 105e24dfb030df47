"""BanqClient against ``responses``: token, retries, errors, money on the wire, no secrets."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import requests
import responses

from banq.client import TOKEN_CACHE_ALIAS, forget_tokens, get_banq_client, token_cache
from banq.exceptions import (
    BanqAuthError,
    BanqConfigError,
    BanqError,
    BanqNotFound,
    BanqPayloadError,
    BanqRequestError,
    BanqUnavailable,
)
from tests.support.banq_api import (
    PAYMENT_ID,
    TEST_ACCESS_TOKEN,
    TRANSACTION_GUID,
    add_json,
    add_paid_link,
    add_payment,
    add_transaction,
    api_calls,
    banq_api_url,
    payment_payload,
    token_calls,
    token_payload,
    user_profile_payload,
    webhook_config_payload,
)


def _link(client, funds=Decimal("19.99"), **kwargs):
    return client.create_payment_link(
        order_code="SF-0001", funds=funds, comment="Order SF-0001", **kwargs
    )


# --- token -----------------------------------------------------------------------------------


def test_token_is_fetched_once_and_cached(banq_api, settings):
    add_payment(banq_api)
    add_transaction(banq_api)
    client = get_banq_client()

    client.get_payment(PAYMENT_ID)
    client.get_transaction(TRANSACTION_GUID)

    assert token_calls(banq_api) == 1
    token_body = json.loads(banq_api.calls[0].request.body)
    assert token_body == {
        "client_id": settings.BANQ_CLIENT_ID,
        "username": settings.BANQ_USERNAME,
        "password": settings.BANQ_PASSWORD,
        "audience": "https://banq.com/open/api/",
        "grant_type": "password",
    }
    for call in api_calls(banq_api):
        assert call.request.headers["Authorization"] == f"Bearer {TEST_ACCESS_TOKEN}"


def test_token_cache_is_shared_by_client_instances(banq_api):
    add_payment(banq_api)
    get_banq_client().get_token()
    # A new client object (another worker) reads the same Django cache entry.
    from banq.client import BanqClient
    from banq.settings import banq_settings

    BanqClient(banq_settings()).get_payment(PAYMENT_ID)
    assert token_calls(banq_api) == 1


def test_token_cache_key_holds_no_secret(banq_api, settings):
    client = get_banq_client()
    client.get_token()
    key = client.token_cache_key
    for secret in (settings.BANQ_PASSWORD, settings.BANQ_USERNAME, TEST_ACCESS_TOKEN):
        assert secret not in key
    assert token_cache().get(key) is not None


def test_changed_password_does_not_reuse_the_cached_token(banq_api, settings):
    get_banq_client().get_token()
    settings.BANQ_PASSWORD = "a-new-password-after-rotation"
    get_banq_client().get_token()
    assert token_calls(banq_api) == 2


def test_token_close_to_expiry_is_refreshed(banq_api):
    banq_api.replace(
        responses.POST,
        banq_api.banq_token_response.url,
        json=token_payload(expires_in=120),
    )
    add_payment(banq_api)
    add_transaction(banq_api)
    client = get_banq_client()
    client.get_payment(PAYMENT_ID)
    # A token expiring within the refresh margin (a few minutes) is not reused.
    client.get_transaction(TRANSACTION_GUID)
    assert token_calls(banq_api) == 2


def test_expired_cached_token_is_not_used(banq_api):
    add_payment(banq_api)
    client = get_banq_client()
    past = (datetime.now(UTC) - timedelta(minutes=1)).timestamp()
    token_cache().set(client.token_cache_key, ("stale-token-value", past), 600)
    client.get_payment(PAYMENT_ID)
    assert token_calls(banq_api) == 1
    assert api_calls(banq_api)[0].request.headers["Authorization"] == f"Bearer {TEST_ACCESS_TOKEN}"


def test_token_lifetime_from_jwt_exp_when_no_expires_in(banq_api):
    import base64

    exp = int((datetime.now(UTC) + timedelta(hours=2)).timestamp())
    claims = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    jwt = f"eyJhbGciOiJSUzI1NiJ9.{claims}.signature"
    banq_api.replace(responses.POST, banq_api.banq_token_response.url, json={"access_token": jwt})
    token = get_banq_client().get_token()
    assert token.expires_at == datetime.fromtimestamp(exp, UTC)


def test_twenty_threads_on_a_cold_cache_fetch_one_token(banq_api):
    add_json(banq_api, "GET", f"/payments/{PAYMENT_ID}", payment_payload())
    client = get_banq_client()
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def work():
        try:
            barrier.wait()
            client.get_payment(PAYMENT_ID)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert token_calls(banq_api) == 1
    assert len(api_calls(banq_api)) == 20


def test_401_drops_the_token_and_retries_once(banq_api):
    banq_api.replace(
        responses.POST,
        banq_api.banq_token_response.url,
        json=token_payload(access_token="first-token-aaaa"),
    )
    url = banq_api_url(f"/payments/{PAYMENT_ID}")
    banq_api.add(responses.GET, url, status=401, json={"message": "token expired"})
    add_payment(banq_api)
    client = get_banq_client()
    client.get_token()
    banq_api.replace(
        responses.POST,
        banq_api.banq_token_response.url,
        json=token_payload(access_token="second-token-bbbb"),
    )

    payment = client.get_payment(PAYMENT_ID)

    assert payment.id == PAYMENT_ID
    calls = api_calls(banq_api)
    assert [c.response.status_code for c in calls] == [401, 200]
    assert calls[0].request.headers["Authorization"] == "Bearer first-token-aaaa"
    assert calls[1].request.headers["Authorization"] == "Bearer second-token-bbbb"
    assert token_calls(banq_api) == 2


def test_401_twice_raises_auth_error(banq_api):
    url = banq_api_url(f"/payments/{PAYMENT_ID}")
    banq_api.add(responses.GET, url, status=401)
    banq_api.add(responses.GET, url, status=401)
    with pytest.raises(BanqAuthError) as info:
        get_banq_client().get_payment(PAYMENT_ID)
    assert info.value.status_code == 401
    assert len(api_calls(banq_api)) == 2


def test_refused_credentials_raise_auth_error_without_secrets(banq_api, settings):
    banq_api.replace(
        responses.POST,
        banq_api.banq_token_response.url,
        status=403,
        json={
            "error": "invalid_grant",
            "error_description": f"Wrong password {settings.BANQ_PASSWORD} for user",
        },
    )
    with pytest.raises(BanqAuthError) as info:
        get_banq_client().get_token()
    assert info.value.status_code == 403
    assert "Wrong password" in str(info.value)
    assert settings.BANQ_PASSWORD not in str(info.value)
    assert token_calls(banq_api) == 1  # 4xx is not retried


def test_token_5xx_is_retried(banq_api, settings):
    settings.BANQ_RETRIES = 2
    token_url = banq_api.banq_token_response.url
    banq_api.replace(responses.POST, token_url, status=503)
    banq_api.add(responses.POST, token_url, json=token_payload())
    # responses answers in registration order for identical matches once earlier ones are used up
    token = get_banq_client().get_token()
    assert token.access_token == TEST_ACCESS_TOKEN
    assert token_calls(banq_api) == 2


def test_client_field_style_sends_client_username(banq_api, settings):
    settings.BANQ_TOKEN_FIELD_STYLE = "client_username"
    get_banq_client().get_token()
    body = json.loads(banq_api.calls[0].request.body)
    assert body["client_username"] == settings.BANQ_USERNAME
    assert body["client_password"] == settings.BANQ_PASSWORD
    assert "username" not in body
    assert "password" not in body


# --- retries and error mapping ---------------------------------------------------------------


def test_get_5xx_is_retried_then_succeeds(banq_api, settings):
    settings.BANQ_RETRIES = 2
    url = banq_api_url(f"/payments/{PAYMENT_ID}")
    banq_api.add(responses.GET, url, status=502)
    banq_api.add(responses.GET, url, status=503)
    add_payment(banq_api)
    assert get_banq_client().get_payment(PAYMENT_ID).status == "created"
    assert [c.response.status_code for c in api_calls(banq_api)] == [502, 503, 200]


def test_get_5xx_exhausts_retries_and_raises_unavailable(banq_api, settings):
    settings.BANQ_RETRIES = 2
    url = banq_api_url(f"/payments/{PAYMENT_ID}")
    banq_api.add(responses.GET, url, status=503, json={"message": "maintenance"})
    with pytest.raises(BanqUnavailable) as info:
        get_banq_client().get_payment(PAYMENT_ID)
    assert info.value.status_code == 503
    assert len(api_calls(banq_api)) == 3


def test_a_timeout_raises_unavailable(banq_api, settings):
    # responses raises at the adapter, below urllib3's retries: retries over real sockets are in
    # test_client_retries.py.
    settings.BANQ_RETRIES = 0
    url = banq_api_url(f"/payments/{PAYMENT_ID}")
    banq_api.add(responses.GET, url, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(BanqUnavailable) as info:
        get_banq_client().get_payment(PAYMENT_ID)
    assert "timed out" in str(info.value)
    assert info.value.status_code is None


def test_every_call_has_explicit_timeouts(banq_api, settings, monkeypatch):
    settings.BANQ_CONNECT_TIMEOUT = 3.0
    settings.BANQ_READ_TIMEOUT = 7.0
    add_payment(banq_api)
    client = get_banq_client()
    seen = []
    original = client.session.request

    def spy(*args, **kwargs):
        seen.append(kwargs.get("timeout"))
        return original(*args, **kwargs)

    monkeypatch.setattr(client.session, "request", spy)
    client.get_payment(PAYMENT_ID)
    assert seen == [(3.0, 7.0), (3.0, 7.0)]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BanqRequestError),
        (404, BanqNotFound),
        (409, BanqRequestError),
        (422, BanqRequestError),
    ],
)
def test_4xx_is_not_retried(banq_api, settings, status, error):
    settings.BANQ_RETRIES = 3
    url = banq_api_url(f"/payments/{PAYMENT_ID}")
    banq_api.add(
        responses.GET, url, status=status, json={"error": {"code": "x", "message": "no such thing"}}
    )
    with pytest.raises(error) as info:
        get_banq_client().get_payment(PAYMENT_ID)
    assert info.value.status_code == status
    assert "no such thing" in str(info.value)
    assert len(api_calls(banq_api)) == 1


def test_create_link_is_not_retried_on_5xx(banq_api, settings):
    settings.BANQ_RETRIES = 3
    add_json(banq_api, "POST", "/payments/get-paid-link", {"message": "boom"}, status=500)
    with pytest.raises(BanqUnavailable):
        _link(get_banq_client())
    assert len(api_calls(banq_api)) == 1


def test_create_link_is_not_retried_on_timeout(banq_api, settings):
    settings.BANQ_RETRIES = 3
    banq_api.add(
        responses.POST,
        banq_api_url("/payments/get-paid-link"),
        body=requests.ReadTimeout("slow"),
    )
    with pytest.raises(BanqUnavailable):
        _link(get_banq_client())
    assert len(api_calls(banq_api)) == 1


def test_invalid_json_answer_is_a_payload_error(banq_api):
    banq_api.add(responses.GET, banq_api_url(f"/payments/{PAYMENT_ID}"), body="<html>oops")
    with pytest.raises(BanqPayloadError):
        get_banq_client().get_payment(PAYMENT_ID)


def test_company_header_only_when_set(banq_api, settings):
    add_payment(banq_api)
    get_banq_client().get_payment(PAYMENT_ID)
    assert "X-Company-Id" not in api_calls(banq_api)[0].request.headers

    settings.BANQ_COMPANY_ID = "company-42"
    add_transaction(banq_api)
    get_banq_client().get_transaction(TRANSACTION_GUID)
    assert api_calls(banq_api)[1].request.headers["X-Company-Id"] == "company-42"


def test_missing_setting_raises_a_config_error_naming_it(settings):
    settings.BANQ_MERCHANT_GUID = ""
    with pytest.raises(BanqConfigError, match="BANQ_MERCHANT_GUID"):
        get_banq_client()


# --- create link: body and money -------------------------------------------------------------


@pytest.mark.parametrize(
    ("funds", "text"),
    [("19.99", "19.99"), ("0.10", "0.10"), ("1000000.00", "1000000.00"), ("5", "5.00")],
)
def test_funds_are_serialised_exactly(banq_api, funds, text):
    add_paid_link(banq_api)
    _link(get_banq_client(), funds=Decimal(funds))
    raw = api_calls(banq_api)[0].request.body.decode()
    assert f'"funds":{text},' in raw or f'"funds":{text}}}' in raw
    assert json.loads(raw, parse_float=Decimal)["funds"] == Decimal(text)


def test_float_funds_are_refused(banq_api):
    with pytest.raises(TypeError):
        _link(get_banq_client(), funds=19.99)
    assert api_calls(banq_api) == []


def test_create_link_body_per_the_guide(banq_api, settings):
    add_paid_link(banq_api)
    link = _link(get_banq_client(), start_date=date(2026, 12, 1), end_date=date(2027, 12, 1))
    body = json.loads(api_calls(banq_api)[0].request.body, parse_float=Decimal)
    assert body == {
        "destination": {"banqGuid": settings.BANQ_MERCHANT_GUID},
        "comment": "Order SF-0001",
        "funds": Decimal("19.99"),
        "externalOrderCode": "SF-0001",
        "frequency": "once",
        "startDate": "2026-12-01",
        "endDate": "2027-12-01",
    }
    assert api_calls(banq_api)[0].request.headers["Content-Type"] == "application/json"
    assert link.url == "https://link.banq.com/4x1t09WiOjb"
    assert link.payment_id == PAYMENT_ID


def test_create_link_refuses_unknown_frequency(banq_api):
    with pytest.raises(ValueError, match="frequency"):
        _link(get_banq_client(), frequency="hourly")


@pytest.mark.parametrize(
    ("status", "body", "headers", "url", "payment_id"),
    [
        (201, {"data": {"url": "https://link.banq.com/a1", "id": "p-1"}}, {}, "a1", "p-1"),
        (200, {"url": "https://link.banq.com/a2", "guid": "p-2"}, {}, "a2", "p-2"),
        (200, {"link": "https://link.banq.com/a3", "paymentGuid": "p-3"}, {}, "a3", "p-3"),
        (200, {"data": {"link": "https://link.banq.com/a4", "guid": "p-4"}}, {}, "a4", "p-4"),
        (200, {"data": {"url": "https://link.banq.com/a5", "paymentGuid": "p-5"}}, {}, "a5", "p-5"),
        (200, {"url": "https://link.banq.com/a6"}, {}, "a6", None),
        (201, None, {"Location": "https://link.banq.com/a7"}, "a7", None),
        (201, {"id": "p-8"}, {"Location": "https://link.banq.com/a8"}, "a8", "p-8"),
    ],
)
def test_every_documented_paid_link_shape(banq_api, status, body, headers, url, payment_id):
    add_paid_link(banq_api, body if body is not None else "", status=status, headers=headers)
    if body is None:  # an empty 201: replace the registered body with nothing at all
        banq_api.replace(
            responses.POST,
            banq_api_url("/payments/get-paid-link"),
            body="",
            status=201,
            headers=headers,
        )
    link = _link(get_banq_client())
    assert link.url == f"https://link.banq.com/{url}"
    assert link.payment_id == payment_id


def test_paid_link_without_url_names_the_keys_present(banq_api):
    add_paid_link(banq_api, {"data": {"id": "p-1"}, "status": "secret-value-xyz"})
    with pytest.raises(BanqPayloadError) as info:
        _link(get_banq_client())
    assert "keys present: data, status" in str(info.value)
    assert "secret-value-xyz" not in str(info.value)


# --- other calls -----------------------------------------------------------------------------


def test_get_payment_parses_money_and_status(banq_api):
    add_payment(banq_api, payment_payload(status="Completed", funds=Decimal("1000000.00")))
    payment = get_banq_client().get_payment(PAYMENT_ID)
    assert payment.is_completed
    assert payment.funds == Decimal("1000000.00")
    assert isinstance(payment.funds, Decimal)
    assert payment.external_order_code == "SF-0001"


def test_get_payment_quotes_the_id(banq_api):
    banq_api.add(
        responses.GET,
        banq_api_url("/payments/a%2Fb"),
        body=json.dumps({"data": {"id": "a/b", "status": "created"}}),
    )
    assert get_banq_client().get_payment("a/b").id == "a/b"


def test_webhook_config_get_returns_none_on_404(banq_api, settings):
    path = f"/account-spaces/{settings.BANQ_ACCOUNT_SPACE_ID}/webhook-config"
    add_json(banq_api, "GET", path, {"error": {"code": "nf", "message": "none"}}, status=404)
    assert get_banq_client().get_webhook_config() is None


def test_webhook_config_create_get_update(banq_api, settings):
    path = f"/account-spaces/{settings.BANQ_ACCOUNT_SPACE_ID}/webhook-config"
    add_json(banq_api, "POST", path, webhook_config_payload(url="https://s.example/h"), status=201)
    add_json(banq_api, "GET", path, webhook_config_payload(url="https://s.example/h"))
    add_json(
        banq_api, "PATCH", path, webhook_config_payload(url="https://s.example/h", enabled=False)
    )
    client = get_banq_client()

    created = client.create_webhook_config(url="https://s.example/h")
    got = client.get_webhook_config()
    updated = client.update_webhook_config(enabled=False)

    assert created.url == got.url == "https://s.example/h"
    assert created.types == ("payment", "transaction")
    assert created.retry_count == 5
    assert updated.enabled is False
    sent = json.loads(api_calls(banq_api)[0].request.body)
    assert sent == {
        "url": "https://s.example/h",
        "enabled": True,
        "retryCount": 5,
        "webHookTypes": ["payment", "transaction"],
    }
    assert json.loads(api_calls(banq_api)[2].request.body) == {"enabled": False}


def test_users_me_uses_merchant_credentials_once_and_caches_nothing(banq_api, settings, caplog):
    caplog.set_level(logging.DEBUG)
    banq_api.replace(
        responses.POST,
        banq_api.banq_token_response.url,
        json=token_payload(access_token="merchant-user-token-zzzz"),
    )
    add_json(banq_api, "GET", "/users/me", user_profile_payload())
    client = get_banq_client()

    profile = client.users_me(email="owner@shop.example", password="Merchant-Pa55word!")

    token_body = json.loads(banq_api.calls[0].request.body)
    assert token_body == {
        "client_id": settings.BANQ_USER_CLIENT_ID,
        "username": "owner@shop.example",
        "password": "Merchant-Pa55word!",
        "audience": "https://banq.com/api",
        "scope": "offline_access",
        "grant_type": "password",
    }
    me_call = api_calls(banq_api)[0]
    assert "include=accountSpaces%2CbanqAccounts" in me_call.request.url or (
        "include=accountSpaces,banqAccounts" in me_call.request.url
    )
    assert me_call.request.headers["Authorization"] == "Bearer merchant-user-token-zzzz"
    assert profile.banq_accounts[0].banq_guid == settings.BANQ_MERCHANT_GUID
    assert profile.account_spaces[0].id == settings.BANQ_ACCOUNT_SPACE_ID
    assert token_cache().get(client.token_cache_key) is None  # the merchant token was not cached
    for record in caplog.records:
        text = record.getMessage()
        assert "Merchant-Pa55word!" not in text
        assert "merchant-user-token-zzzz" not in text


# --- no secrets anywhere ---------------------------------------------------------------------


def test_no_secret_in_logs_or_errors(banq_api, settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings.BANQ_RETRIES = 1
    add_paid_link(banq_api)
    add_payment(banq_api)
    url = banq_api_url("/transactions/t-1")
    banq_api.add(
        responses.GET,
        url,
        status=400,
        json={"error": {"code": "bad", "message": f"token {TEST_ACCESS_TOKEN} is odd"}},
    )
    client = get_banq_client()
    _link(client)
    client.get_payment(PAYMENT_ID)
    with pytest.raises(BanqError) as info:
        client.get_transaction("t-1")

    secrets = (settings.BANQ_PASSWORD, TEST_ACCESS_TOKEN, settings.BANQ_WEBHOOK_TOKEN)
    texts = [record.getMessage() for record in caplog.records] + [str(info.value)]
    texts += [repr(client), repr(client.config), repr(client.get_token())]
    assert any("/payments/get-paid-link" in t for t in texts)  # the calls were logged
    for text in texts:
        for secret in secrets:
            assert secret not in text
        assert "Bearer" not in text
        assert "SF-0001" not in text  # no body in the log


def test_each_call_is_logged_with_method_path_status_duration(banq_api, caplog):
    caplog.set_level(logging.INFO, logger="banq")
    add_payment(banq_api)
    get_banq_client().get_payment(PAYMENT_ID)
    lines = [r.getMessage() for r in caplog.records if r.name == "banq.client"]
    assert any(f"GET /payments/{PAYMENT_ID} -> 200 in" in line for line in lines)
    assert any("POST /oauth/token -> 200 in" in line for line in lines)


def test_the_environment_is_read_once_per_client(monkeypatch, settings):
    """requests would search the environment on every call; the client reads it once."""
    from banq.client import BanqClient
    from banq.settings import banq_settings

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/bundle.pem")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "")
    settings.BANQ_API_URL = "https://sandbox.banq.com/api/v1"
    settings.BANQ_TOKEN_URL = "https://banq-staging.auth0.com/oauth/token"

    session = BanqClient(banq_settings()).session

    assert session.trust_env is False
    assert session.verify == "/etc/ssl/certs/bundle.pem"
    assert session.proxies["https"] == "http://proxy.internal:3128"


def test_a_process_keeps_its_token_in_memory(banq_api):
    add_payment(banq_api)
    client = get_banq_client()
    client.get_payment(PAYMENT_ID)
    token_cache().clear()  # the shared copy gone: this process still holds the token

    client.get_payment(PAYMENT_ID)

    assert token_calls(banq_api) == 1


def test_another_process_uses_the_shared_token(banq_api):
    add_payment(banq_api)
    get_banq_client().get_payment(PAYMENT_ID)
    forget_tokens()  # what a second process starts with: nothing in memory

    get_banq_client(in_request=True).get_payment(PAYMENT_ID)

    assert token_calls(banq_api) == 1
    assert [c.request.headers["Authorization"] for c in api_calls(banq_api)] == [
        f"Bearer {TEST_ACCESS_TOKEN}"
    ] * 2


def test_a_401_drops_the_token_in_memory_and_in_the_shared_cache(banq_api):
    client = get_banq_client()
    client.get_token()
    url = banq_api_url(f"/payments/{PAYMENT_ID}")
    banq_api.add(responses.GET, url, status=401)
    banq_api.add(responses.GET, url, status=401)

    with pytest.raises(BanqAuthError):
        client.get_payment(PAYMENT_ID)

    assert token_calls(banq_api) == 2  # the first token, then a fresh one for the retry
    client.drop_token()  # as the second 401 left it: the next call asks for a new one
    assert token_cache().get(client.token_cache_key) is None
    client.get_token()
    assert token_calls(banq_api) == 3


def test_a_failing_token_cache_costs_a_token_never_a_payment(banq_api, settings, tmp_path, caplog):
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("")
    settings.CACHES = {
        **settings.CACHES,
        TOKEN_CACHE_ALIAS: {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(not_a_directory / "cache"),
        },
    }
    add_payment(banq_api)

    payment = get_banq_client().get_payment(PAYMENT_ID)

    assert payment.id == PAYMENT_ID
    assert token_calls(banq_api) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("banq token cache" in w for w in warnings)
    assert not any(TEST_ACCESS_TOKEN in w or str(not_a_directory) in w for w in warnings)
