"""banq_check: configuration, token, one API call, webhook URL comparison, refused calls."""

from __future__ import annotations

import pytest
import responses
from django.conf import settings
from django.utils import timezone

from banq.selectors import webhook_url_ours
from tests.commands.conftest import assert_no_secret, run_command
from tests.support.banq_api import add_json, webhook_config_payload
from webhooks.models import WebhookRefusal

pytestmark = pytest.mark.django_db


def _config_path() -> str:
    return f"/account-spaces/{settings.BANQ_ACCOUNT_SPACE_ID}/webhook-config"


def test_banq_check_all_good_prints_checks_and_exits_0(banq_api, webhook_token):
    add_json(banq_api, "GET", _config_path(), webhook_config_payload(url=webhook_url_ours()))

    run = run_command("banq_check")

    assert run.code == 0, run.text
    assert "✓ token" in run.out
    assert "✓ webhook: banq calls our URL" in run.out
    assert "✗" not in run.out
    assert "BANQ_PASSWORD         set" in run.out
    assert "whk-" in run.out  # the token's first characters, masked
    assert_no_secret(run)


def test_banq_check_reports_a_different_webhook_url(banq_api, webhook_token):
    stale = webhook_config_payload(url="https://shop.example/webhooks/banq/old-token-123456/x/")
    add_json(banq_api, "GET", _config_path(), stale)

    run = run_command("banq_check")

    assert run.code == 1
    assert "✗ webhook: banq calls a different URL" in run.out
    assert "old-token-123456" not in run.text
    assert_no_secret(run)


def test_banq_check_without_a_webhook_config_at_banq_fails(banq_api):
    add_json(banq_api, "GET", _config_path(), {"error": {"message": "none"}}, status=404)

    run = run_command("banq_check")

    assert run.code == 1
    assert "no webhook config" in run.out


def test_banq_check_reports_wrong_token_calls_as_a_stale_url(banq_api):
    add_json(banq_api, "GET", _config_path(), webhook_config_payload(url=webhook_url_ours()))
    WebhookRefusal.objects.create(day=timezone.localdate(), count=3, last_seen_at=timezone.now())

    run = run_command("banq_check")

    assert run.code == 1
    assert "3 call(s) refused for a wrong token" in run.out
    assert "stale" in run.out


def test_banq_check_with_bad_credentials_fails_without_printing_them(banq_api, settings):
    settings.BANQ_PASSWORD = "wrong-password-xyz"
    banq_api.replace(
        responses.POST,
        settings.BANQ_TOKEN_URL,
        json={"error": "invalid_grant", "error_description": "Wrong email or password."},
        status=403,
    )

    run = run_command("banq_check")

    assert run.code == 1
    assert "✗ token" in run.out
    assert "refused our credentials" in run.out
    assert_no_secret(run, "wrong-password-xyz")


def test_banq_check_with_banq_down_fails(banq_api):
    banq_api.replace(responses.POST, settings.BANQ_TOKEN_URL, status=503, body="")

    run = run_command("banq_check")

    assert run.code == 1
    assert "could not be reached" in run.out


def test_banq_check_names_missing_settings(settings, banq_api):
    settings.BANQ_PASSWORD = ""
    settings.BANQ_WEBHOOK_TOKEN = ""

    run = run_command("banq_check")

    assert run.code == 1
    assert "BANQ_PASSWORD         missing" in run.out
    assert "✗ configuration: missing BANQ_PASSWORD, BANQ_WEBHOOK_TOKEN" in run.out


def test_banq_check_connection_refused(settings):
    settings.BANQ_TOKEN_URL = "http://127.0.0.1:9/oauth/token"
    settings.BANQ_API_URL = "http://127.0.0.1:9/api/v1"
    settings.BANQ_RETRIES = 0

    run = run_command("banq_check")

    assert run.code == 1
    assert "could not be reached" in run.out
    assert_no_secret(run)


# --- against the running emulator ---------------------------------------------------------


def test_banq_check_against_the_emulator(emulator_settings, banq_emulator):
    banq_emulator.set_webhook_config(url=webhook_url_ours())

    run = run_command("banq_check")

    assert run.code == 0, run.text
    assert "✓ API: read the webhook config" in run.out
    assert_no_secret(run)


def test_banq_check_emulator_without_config_and_with_faults(emulator_settings, banq_emulator):
    banq_emulator.set_faults(error_rate=1.0, error_routes=["webhook-config"])

    run = run_command("banq_check")

    assert run.code == 1
    assert "✓ token" in run.out
    assert "✗ API" in run.out
    assert "could not be reached" in run.out


def test_banq_check_emulator_bad_password(emulator_settings):
    emulator_settings.BANQ_PASSWORD = "not-the-emulator-password"

    run = run_command("banq_check")

    assert run.code == 1
    assert "✗ token" in run.out
    assert_no_secret(run, "not-the-emulator-password")
