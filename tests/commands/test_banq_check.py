"""banq_check: configuration, token, one API call, webhook URL comparison, refused calls."""

from __future__ import annotations

import pytest
import responses
from django.conf import settings

from banq.selectors import webhook_url_ours
from tests.commands.conftest import assert_no_secret, run_command
from tests.support.banq_api import add_json, webhook_config_payload, webhook_notification_payload
from tests.webhooks.support import post_event
from webhooks.models import WebhookEvent

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


STALE_TOKEN = "an-old-rotated-token-0123456789abcdef"


def _refused(client, body) -> None:
    response = post_event(client, body, token=STALE_TOKEN)
    assert response.status_code == 404


def test_banq_check_reports_banq_events_sent_to_an_old_token_as_a_stale_url(banq_api, client):
    add_json(banq_api, "GET", _config_path(), webhook_config_payload(url=webhook_url_ours()))
    for _ in range(3):  # banq retrying one delivery to the URL it still has
        _refused(client, webhook_notification_payload())

    run = run_command("banq_check")

    assert run.code == 1
    assert "3 banq event(s) refused for a wrong token" in run.out
    assert "stale URL" in run.out


def test_probes_and_a_single_stray_call_keep_banq_check_green(banq_api, client):
    add_json(banq_api, "GET", _config_path(), webhook_config_payload(url=webhook_url_ours()))
    for body in (b"", b"GET / HTTP/1.0", {"hello": "world"}, b"\x00\xff", {"action": 1}):
        _refused(client, body)
    _refused(client, webhook_notification_payload())  # one test call with an old token

    run = run_command("banq_check")

    assert run.code == 0, run.text
    assert "6 call(s) refused for a wrong token" in run.out
    assert "none of them a sign of a stale URL" in run.out


def test_an_accepted_event_after_refusals_clears_the_alarm(banq_api, client):
    add_json(banq_api, "GET", _config_path(), webhook_config_payload(url=webhook_url_ours()))
    for _ in range(3):
        _refused(client, webhook_notification_payload())
    WebhookEvent.objects.create(state=WebhookEvent.State.PROCESSED)  # banq now calls our URL

    run = run_command("banq_check")

    assert run.code == 0, run.text


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


CANCEL_PROBE = "/payments/00000000-0000-4000-8000-000000000000/cancel"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"error": {"code": "payment_not_found", "message": "Unknown payment"}}),
        (409, {"error": {"code": "not_recurring", "message": "One-time payment"}}),
        (200, {"data": {}}),
    ],
)
def test_banq_check_reports_that_banq_answers_the_recurring_cancel(banq_api, status, body):
    add_json(banq_api, "GET", _config_path(), webhook_config_payload(url=webhook_url_ours()))
    add_json(banq_api, "POST", CANCEL_PROBE, body, status=status)

    run = run_command("banq_check")

    assert run.code == 0, run.text
    assert "✓ plans: banq answers POST /payments/" in run.out
    assert "stopped through the API" in run.out


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            404,
            {"error": {"code": "not_found", "message": "No route for /api/v1/payments/x/cancel"}},
        ),
        (404, {}),
        (405, {"error": {"code": "method_not_allowed", "message": "Method not allowed"}}),
    ],
)
def test_banq_check_says_when_banq_does_not_answer_the_recurring_cancel_without_failing(
    banq_api, status, body
):
    add_json(banq_api, "GET", _config_path(), webhook_config_payload(url=webhook_url_ours()))
    add_json(banq_api, "POST", CANCEL_PROBE, body, status=status)

    run = run_command("banq_check")

    assert run.code == 0, run.text
    assert "– plans: banq does not" in run.out
    assert "flagged for the merchant to stop in banq's dashboard" in run.out
    assert "✗" not in run.out
