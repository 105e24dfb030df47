"""banq_register_webhook: create, update only what differs, idempotent, dry run, errors."""

from __future__ import annotations

import json

import pytest
import responses
from django.conf import settings

from banq.selectors import webhook_url_build
from tests.commands.conftest import assert_no_secret, run_command
from tests.support.banq_api import add_json, api_calls, webhook_config_payload

pytestmark = pytest.mark.django_db

BASE = "https://shop.example.com"


def _path() -> str:
    return f"/account-spaces/{settings.BANQ_ACCOUNT_SPACE_ID}/webhook-config"


def _ours() -> str:
    return webhook_url_build(base_url=BASE)


def test_register_creates_the_config_when_banq_has_none(banq_api, webhook_token):
    add_json(banq_api, "GET", _path(), {"error": {"message": "none"}}, status=404)
    add_json(banq_api, "POST", _path(), {"data": webhook_config_payload(url=_ours())}, status=201)

    run = run_command("banq_register_webhook", base_url=BASE)

    assert run.code == 0, run.text
    post = api_calls(banq_api)[-1].request
    assert post.method == "POST"
    body = json.loads(post.body)
    assert body == {
        "url": f"{BASE}/webhooks/banq/{webhook_token}/payment-status/",
        "enabled": True,
        "retryCount": 5,
        "webHookTypes": ["payment", "transaction"],
    }
    assert "created" in run.out
    assert "whk-…" in run.out
    assert_no_secret(run)


def test_register_patches_only_the_fields_that_differ(banq_api, webhook_token):
    add_json(banq_api, "GET", _path(), webhook_config_payload(url="https://old.example/x/"))
    add_json(banq_api, "PATCH", _path(), webhook_config_payload(url=_ours(), retry_count=3))

    run = run_command("banq_register_webhook", base_url=BASE, retry_count=3)

    assert run.code == 0, run.text
    patch = api_calls(banq_api)[-1].request
    assert patch.method == "PATCH"
    assert json.loads(patch.body) == {"url": _ours(), "retryCount": 3}
    assert "updated" in run.out
    assert_no_secret(run)


def test_register_second_run_changes_nothing(banq_api, webhook_token):
    add_json(banq_api, "GET", _path(), webhook_config_payload(url=_ours()))

    run = run_command("banq_register_webhook", base_url=BASE)

    assert run.code == 0
    assert [c.request.method for c in api_calls(banq_api)] == ["GET"]
    assert "already up to date" in run.out


def test_register_dry_run_changes_nothing(banq_api, webhook_token):
    add_json(banq_api, "GET", _path(), webhook_config_payload(url=_ours(), enabled=True))

    run = run_command("banq_register_webhook", base_url=BASE, disable=True, dry_run=True)

    assert run.code == 0
    assert [c.request.method for c in api_calls(banq_api)] == ["GET"]
    assert "enabled: would change to False" in run.out
    assert "Dry run" in run.out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"base_url": "ftp://shop.example.com"}, "http(s) URL"),
        ({"base_url": "https://shop.example.com/shop"}, "without a path"),
        ({"base_url": BASE, "types": "payment,refund"}, "unknown: refund"),
        ({"base_url": BASE, "retry_count": -1}, "--retry-count"),
    ],
)
def test_register_refuses_bad_arguments_before_calling_banq(options, message):
    run = run_command("banq_register_webhook", **options)

    assert run.code == 1
    assert message in run.err


def test_register_banq_down(banq_api):
    add_json(banq_api, "GET", _path(), {"error": {"message": "down"}}, status=503)

    run = run_command("banq_register_webhook", base_url=BASE)

    assert run.code == 1
    assert "could not be reached" in run.err


def test_register_bad_credentials(banq_api, settings):
    banq_api.replace(responses.POST, settings.BANQ_TOKEN_URL, json={"error": "x"}, status=401)

    run = run_command("banq_register_webhook", base_url=BASE)

    assert run.code == 1
    assert "refused our credentials" in run.err
    assert_no_secret(run)


# --- against the running emulator ---------------------------------------------------------


def test_register_against_the_emulator_is_idempotent(emulator_settings, banq_emulator):
    first = run_command("banq_register_webhook", base_url=BASE, types="payment")
    assert first.code == 0, first.text
    assert "created" in first.out
    config = banq_emulator.webhook_config()
    assert config["url"] == _ours()
    assert config["webHookTypes"] == ["payment"]

    second = run_command("banq_register_webhook", base_url=BASE, types="payment")

    assert second.code == 0
    assert "already up to date" in second.out
    assert banq_emulator.webhook_config() == config
    assert_no_secret(first)
    assert_no_secret(second)


def test_register_emulator_update_and_dry_run(emulator_settings, banq_emulator):
    banq_emulator.set_webhook_config(url="http://old.example/webhooks/banq/old-token-xyz1/p/")

    dry = run_command("banq_register_webhook", base_url=BASE, dry_run=True)
    assert dry.code == 0
    assert banq_emulator.webhook_config()["url"].startswith("http://old.example/")
    assert "old-token-xyz1" not in dry.text

    run = run_command("banq_register_webhook", base_url=BASE, retry_count=7)

    assert run.code == 0, run.text
    config = banq_emulator.webhook_config()
    assert (config["url"], config["retryCount"]) == (_ours(), 7)


def test_register_emulator_down(emulator_settings, banq_emulator):
    emulator_settings.BANQ_RETRIES = 0
    banq_emulator.set_faults(error_rate=1.0, error_routes=["webhook-config"])

    run = run_command("banq_register_webhook", base_url=BASE)

    assert run.code == 1
    assert "could not be reached" in run.err


def test_register_emulator_bad_credentials(emulator_settings):
    emulator_settings.BANQ_PASSWORD = "bad-password-123"

    run = run_command("banq_register_webhook", base_url=BASE)

    assert run.code == 1
    assert_no_secret(run, "bad-password-123")


def test_devserver_call_shape_works_quietly(emulator_settings, banq_emulator):
    """storefront/devserver.py calls it as call_command(..., base_url=..., verbosity=0)."""
    run = run_command("banq_register_webhook", base_url="http://127.0.0.1:8000", verbosity=0)

    assert run.code == 0
    assert run.out == ""
    assert banq_emulator.webhook_config()["url"].startswith("http://127.0.0.1:8000/webhooks/banq/")
