"""banq_accounts: the merchant-user flow, the accounts table and the .env lines."""

from __future__ import annotations

import io

import pytest
import responses
from django.conf import settings

from tests.commands.conftest import assert_no_secret, run_command
from tests.support.banq_api import add_json, user_profile_payload

pytestmark = pytest.mark.django_db

PASSWORD = "merchant-pass-Secret-987"


def test_banq_accounts_prints_table_and_env_lines(banq_api):
    add_json(banq_api, "GET", "/users/me", user_profile_payload())

    run = run_command(
        "banq_accounts",
        email="merchant@example.com",
        password_stdin=True,
        stdin=io.StringIO(PASSWORD + "\n"),
    )

    assert run.code == 0, run.text
    assert "BANQ_MERCHANT_GUID=6f1c2b9e-3d4a-4c5b-8e7f-9a0b1c2d3e4f" in run.out
    assert "BANQ_ACCOUNT_SPACE_ID=3a7d9c1e-5b2f-4e8a-9c6d-0f1e2d3c4b5a" in run.out
    lines = run.out.splitlines()
    header = next(line for line in lines if "BANQ GUID" in line)
    row = next(line for line in lines if "6f1c2b9e" in line and "=" not in line)
    # aligned: the guid column starts at the same place in the header and the row
    assert header.index("BANQ GUID") == row.index("6f1c2b9e")
    assert "Demo store space" in run.out
    assert_no_secret(run, PASSWORD)
    token_call = banq_api.calls[0].request
    assert token_call.url == settings.BANQ_TOKEN_URL
    assert b"merchant@example.com" in token_call.body


def test_banq_accounts_asks_with_getpass_without_stdin(banq_api, monkeypatch):
    add_json(banq_api, "GET", "/users/me", user_profile_payload())
    prompts = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": prompts.append(prompt) or PASSWORD)

    run = run_command("banq_accounts", email="merchant@example.com")

    assert run.code == 0, run.text
    assert prompts
    assert "merchant@example.com" in prompts[0]
    assert_no_secret(run, PASSWORD)


def test_banq_accounts_wrong_password_is_a_clear_error(banq_api):
    banq_api.replace(
        responses.POST,
        settings.BANQ_TOKEN_URL,
        json={"error": "invalid_grant", "error_description": f"Wrong password {PASSWORD}"},
        status=403,
    )

    run = run_command(
        "banq_accounts", email="m@example.com", password_stdin=True, stdin=io.StringIO(PASSWORD)
    )

    assert run.code == 1
    assert "banq refused the login" in run.err
    assert_no_secret(run, PASSWORD)


def test_banq_accounts_empty_password_is_refused_before_calling_banq():
    run = run_command(
        "banq_accounts", email="m@example.com", password_stdin=True, stdin=io.StringIO("\n")
    )

    assert run.code == 1
    assert "No password" in run.err


def test_banq_accounts_works_without_open_api_credentials(banq_api, settings):
    settings.BANQ_MERCHANT_GUID = ""
    settings.BANQ_CLIENT_ID = ""
    add_json(banq_api, "GET", "/users/me", user_profile_payload())

    run = run_command(
        "banq_accounts", email="m@example.com", password_stdin=True, stdin=io.StringIO(PASSWORD)
    )

    assert run.code == 0, run.text
    assert "BANQ_MERCHANT_GUID=" in run.out


def test_banq_accounts_banq_down(banq_api):
    banq_api.replace(responses.POST, settings.BANQ_TOKEN_URL, status=503, body="")

    run = run_command(
        "banq_accounts", email="m@example.com", password_stdin=True, stdin=io.StringIO(PASSWORD)
    )

    assert run.code == 1
    assert "could not be reached" in run.err
    assert_no_secret(run, PASSWORD)


# --- against the running emulator ---------------------------------------------------------


def test_banq_accounts_against_the_emulator(emulator_settings):
    run = run_command(
        "banq_accounts",
        email="merchant@emulator.banq.test",
        password_stdin=True,
        stdin=io.StringIO("merchant-password\n"),
    )

    assert run.code == 0, run.text
    assert "BANQ_MERCHANT_GUID=6f1c2b9e-3d4a-4c5b-8e7f-9a0b1c2d3e4f" in run.out
    assert "7a2d3c0f-4e5b-4d6c-9f80-ab1c2d3e4f50" in run.out  # the second account
    assert "BANQ_ACCOUNT_SPACE_ID=3a7d9c1e-5b2f-4e8a-9c6d-0f1e2d3c4b5a" in run.out
    assert_no_secret(run, "merchant-password")


def test_banq_accounts_emulator_wrong_password(emulator_settings):
    run = run_command(
        "banq_accounts",
        email="merchant@emulator.banq.test",
        password_stdin=True,
        stdin=io.StringIO("nope-wrong-password\n"),
    )

    assert run.code == 1
    assert "banq refused the login" in run.err
    assert_no_secret(run, "nope-wrong-password")


def test_banq_accounts_emulator_down(emulator_settings, banq_emulator):
    emulator_settings.BANQ_RETRIES = 0
    banq_emulator.set_faults(error_rate=1.0, error_routes=["users-me"])

    run = run_command(
        "banq_accounts",
        email="merchant@emulator.banq.test",
        password_stdin=True,
        stdin=io.StringIO("merchant-password\n"),
    )

    assert run.code == 1
    assert "could not be reached" in run.err
