"""The client's contract, run twice: against the real emulator over HTTP and against ``responses``
answering the canonical JSON fixtures (tests/fixtures/banq/*.json).

``check_contract(client, world)`` holds the ONE set of assertions. A *world* arranges what banq
will answer before each step (register fixtures, or act on the emulator's control API). If the two
runs disagree, either the fixtures or the emulator drifted from the shapes in docs/banq-api.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

import pytest
import responses
from django.conf import settings

from banq.client import BanqClient, get_banq_client
from banq.exceptions import BanqAuthError, BanqNotFound, BanqUnavailable
from tests.support.banq_api import (
    add_json,
    api_calls,
    banq_api_url,
    fixture_text,
    load_fixture,
)

ORDER_CODE = "SF-0001"  # the fixtures' externalOrderCode
FUNDS = Decimal("19.99")
UNKNOWN_PAYMENT = "00000000-0000-4000-8000-000000000000"
WEBHOOK_URL = load_fixture("webhook_config")["url"]
MERCHANT_EMAIL = "merchant@emulator.banq.test"
MERCHANT_PASSWORD = "merchant-password"


class World(Protocol):
    def before_create_link(self) -> None: ...
    def before_get_payment(self, payment_id: str, status: str) -> None: ...
    def complete(self, payment_id: str) -> None: ...
    def transaction_guid(self, payment_id: str) -> str: ...
    def before_webhook_configs(self) -> None: ...
    def before_users_me(self) -> None: ...
    def before_unknown_payment(self, payment_id: str) -> None: ...
    def inject_503(self, payment_id: str) -> None: ...
    def refuse_credentials(self) -> None: ...


def check_contract(client: BanqClient, world: World) -> None:
    # token
    token = client.get_token()
    assert token.access_token
    assert token.expires_at > datetime.now(UTC) + timedelta(hours=1)

    # create link
    world.before_create_link()
    link = client.create_payment_link(order_code=ORDER_CODE, funds=FUNDS, comment="Contract test")
    assert link.url.startswith(("http://", "https://"))
    assert link.payment_id

    # get payment: created
    world.before_get_payment(link.payment_id, "created")
    payment = client.get_payment(link.payment_id)
    assert payment.id == link.payment_id
    assert payment.status == "created"
    assert not payment.is_completed
    assert not payment.is_failed
    assert payment.funds == FUNDS
    assert isinstance(payment.funds, Decimal)
    assert payment.external_order_code == ORDER_CODE
    assert payment.destination_guid == settings.BANQ_MERCHANT_GUID
    assert payment.frequency == "once"
    assert payment.completed_at is None

    # get payment: completed
    world.complete(link.payment_id)
    world.before_get_payment(link.payment_id, "completed")
    payment = client.get_payment(link.payment_id)
    assert payment.is_completed
    assert payment.funds == FUNDS
    assert payment.completed_at is not None

    # get transaction
    guid = world.transaction_guid(link.payment_id)
    transaction = client.get_transaction(guid)
    assert transaction.guid == guid
    assert transaction.payment_guid == link.payment_id
    assert transaction.status == "completed"
    assert transaction.funds == FUNDS
    assert transaction.external_order_code == ORDER_CODE

    # webhook config: none yet, create, get, update, get
    world.before_webhook_configs()
    assert client.get_webhook_config() is None
    created = client.create_webhook_config(url=WEBHOOK_URL)
    assert (created.url, created.enabled, created.retry_count) == (WEBHOOK_URL, True, 5)
    assert created.types == ("payment", "transaction")
    fetched = client.get_webhook_config()
    assert fetched is not None
    assert (fetched.url, fetched.enabled, fetched.types) == (WEBHOOK_URL, True, created.types)
    updated = client.update_webhook_config(enabled=False)
    assert updated.enabled is False
    assert updated.url == WEBHOOK_URL
    refetched = client.get_webhook_config()
    assert refetched is not None
    assert refetched.enabled is False

    # users/me with the merchant's own credentials
    world.before_users_me()
    profile = client.users_me(email=MERCHANT_EMAIL, password=MERCHANT_PASSWORD)
    assert profile.email == MERCHANT_EMAIL
    assert settings.BANQ_MERCHANT_GUID in [a.banq_guid for a in profile.banq_accounts]
    assert settings.BANQ_ACCOUNT_SPACE_ID in [s.id for s in profile.account_spaces]

    # error mapping
    world.before_unknown_payment(UNKNOWN_PAYMENT)
    with pytest.raises(BanqNotFound) as not_found:
        client.get_payment(UNKNOWN_PAYMENT)
    assert not_found.value.status_code == 404

    world.inject_503(link.payment_id)
    with pytest.raises(BanqUnavailable) as unavailable:
        client.get_payment(link.payment_id)
    assert unavailable.value.status_code == 503

    world.refuse_credentials()
    client.drop_token()
    with pytest.raises(BanqAuthError) as refused:
        client.get_token()
    assert settings.BANQ_PASSWORD not in str(refused.value)


# --- the emulator world ------------------------------------------------------------------------


class EmulatorWorld:
    def __init__(self, emulator, settings_wrapper):
        self.emulator = emulator
        self.settings = settings_wrapper

    def before_create_link(self) -> None:
        pass

    def before_get_payment(self, payment_id: str, status: str) -> None:
        pass

    def complete(self, payment_id: str) -> None:
        self.emulator.complete(payment_id)

    def transaction_guid(self, payment_id: str) -> str:
        return self.emulator.payment(payment_id)["transactionGuid"]

    def before_webhook_configs(self) -> None:
        pass

    def before_users_me(self) -> None:
        pass

    def before_unknown_payment(self, payment_id: str) -> None:
        pass

    def inject_503(self, payment_id: str) -> None:
        self.emulator.set_faults(error_rate=1.0, error_routes=["get-payment"])

    def refuse_credentials(self) -> None:
        self.settings.BANQ_PASSWORD = "not-the-password"


@pytest.mark.integration
def test_contract_against_the_emulator(emulator_settings, banq_emulator):
    emulator_settings.BANQ_RETRY_BACKOFF = 0
    emulator_settings.BANQ_RETRIES = 1
    world = EmulatorWorld(banq_emulator, emulator_settings)

    def client() -> BanqClient:
        return get_banq_client()

    # The world may change settings (bad credentials): re-read the client at that step.
    original = world.refuse_credentials

    def refuse_and_rebuild() -> None:
        original()
        holder["client"] = client()

    holder = {"client": client()}
    world.refuse_credentials = refuse_and_rebuild  # type: ignore[method-assign]
    check_contract(_Proxy(holder), world)


# --- the responses world -----------------------------------------------------------------------


class ResponsesWorld:
    def __init__(self, rsps: responses.RequestsMock):
        self.rsps = rsps
        self.payment_id = load_fixture("paid_link")["data"]["id"]

    def _payment_url(self, payment_id: str) -> str:
        return banq_api_url(f"/payments/{payment_id}")

    def before_create_link(self) -> None:
        self.rsps.add(
            responses.POST,
            banq_api_url("/payments/get-paid-link"),
            body=fixture_text("paid_link"),
            status=201,
            content_type="application/json",
        )

    def before_get_payment(self, payment_id: str, status: str) -> None:
        assert payment_id == self.payment_id
        self.rsps.upsert(
            responses.GET,
            self._payment_url(payment_id),
            body=fixture_text(f"payment_{status}"),
            content_type="application/json",
        )

    def complete(self, payment_id: str) -> None:
        pass

    def transaction_guid(self, payment_id: str) -> str:
        data = load_fixture("transaction_completed")
        guid = data["data"]["guid"]
        self.rsps.add(
            responses.GET,
            banq_api_url(f"/transactions/{guid}"),
            body=fixture_text("transaction_completed"),
            content_type="application/json",
        )
        return guid

    def before_webhook_configs(self) -> None:
        path = f"/account-spaces/{settings.BANQ_ACCOUNT_SPACE_ID}/webhook-config"
        enabled = load_fixture("webhook_config")
        disabled = {**enabled, "enabled": False}
        add_json(self.rsps, "GET", path, load_fixture("error_404"), status=404)
        add_json(self.rsps, "POST", path, {"data": enabled}, status=201)
        add_json(self.rsps, "GET", path, {"data": enabled})
        add_json(self.rsps, "PATCH", path, {"data": disabled})
        add_json(self.rsps, "GET", path, {"data": disabled})

    def before_users_me(self) -> None:
        self.rsps.add(
            responses.GET,
            banq_api_url("/users/me"),
            body=fixture_text("users_me"),
            content_type="application/json",
        )

    def before_unknown_payment(self, payment_id: str) -> None:
        add_json(self.rsps, "GET", f"/payments/{payment_id}", load_fixture("error_404"), status=404)

    def inject_503(self, payment_id: str) -> None:
        self.rsps.upsert(
            responses.GET,
            self._payment_url(payment_id),
            status=503,
            json={"error": {"code": "service_unavailable", "message": "try again later"}},
        )

    def refuse_credentials(self) -> None:
        self.rsps.replace(
            responses.POST,
            settings.BANQ_TOKEN_URL,
            body=fixture_text("token_error"),
            status=403,
            content_type="application/json",
        )


def test_contract_against_responses_fixtures(banq_api, settings):
    settings.BANQ_RETRIES = 1
    banq_api.replace(
        responses.POST,
        settings.BANQ_TOKEN_URL,
        body=fixture_text("token"),
        content_type="application/json",
    )
    check_contract(get_banq_client(), ResponsesWorld(banq_api))
    # The 503 was retried (GETs are safe): two calls answered 503.
    statuses = [c.response.status_code for c in api_calls(banq_api)]
    assert statuses.count(503) == 2


class _Proxy:
    """Lets the emulator run swap the client after settings change, behind one object."""

    def __init__(self, holder):
        self._holder = holder

    def __getattr__(self, name):
        return getattr(self._holder["client"], name)
