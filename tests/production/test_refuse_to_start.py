"""Outside emulator mode, the store (`python -m storefront.serve`) and the worker (`manage.py
worker`) refuse to start while a check of error level fails: they print the messages and exit 1,
and nothing ever listens."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from storefront.processes import free_port, store_command, worker_command
from tests.production.test_settings import BASE, clean_env, production_env

pytestmark = pytest.mark.integration


def serve(env: dict[str, str]) -> tuple[subprocess.CompletedProcess, int]:
    port = free_port()
    result = subprocess.run(
        store_command(port=port),
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, port


def worker(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        worker_command(),
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def nothing_listens(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_store_refuses_to_start_in_production_without_credentials_or_key():
    env = clean_env(BANQ_ENVIRONMENT="production")

    result, port = serve(env)

    assert result.returncode == 1
    for expected in ("banq.E002", "BANQ_CLIENT_ID", "BANQ_PASSWORD", "storefront.E002"):
        assert expected in result.stderr
    assert "The store does not start while a check fails" in result.stderr
    assert "Listening on" not in result.stderr + result.stdout
    assert nothing_listens(port)


def test_the_store_refuses_to_start_with_debug_on_in_production():
    env = production_env()
    env["DJANGO_DEBUG"] = "true"

    result, port = serve(env)

    assert result.returncode == 1
    assert "storefront.E001" in result.stderr
    assert "DJANGO_DEBUG is on" in result.stderr
    assert nothing_listens(port)
    for secret in (env["DJANGO_SECRET_KEY"], env["BANQ_PASSWORD"], env["BANQ_WEBHOOK_TOKEN"]):
        assert secret not in result.stderr + result.stdout


def test_the_store_refuses_to_start_with_a_published_key():
    env = production_env()
    env["DJANGO_SECRET_KEY"] = "dev-only-insecure-key-banq-storefront-do-not-use-in-production"

    result, _ = serve(env)

    assert result.returncode == 1
    assert "storefront.E003" in result.stderr


def test_the_store_and_the_worker_refuse_to_start_without_a_way_to_send_e_mail():
    env = {k: v for k, v in production_env().items() if not k.startswith("EMAIL_")}

    served, port = serve(env)
    worked = worker(env)

    for result in (served, worked):
        assert result.returncode == 1
        assert "storefront.E008" in result.stderr
    assert nothing_listens(port)
    assert "started" not in worked.stdout + worked.stderr


def test_the_worker_refuses_to_start_on_the_same_checks():
    env = clean_env(BANQ_ENVIRONMENT="sandbox", DJANGO_DEBUG="true")

    result = worker(env)

    assert result.returncode == 1
    for expected in ("banq.E002", "storefront.E001", "storefront.E002"):
        assert expected in result.stderr
    assert "started" not in result.stdout + result.stderr


def test_banq_accounts_runs_before_the_guids_it_finds_are_set(banq_emulator):
    """Step 2 of going live: the checks fail for want of BANQ_MERCHANT_GUID, which this command
    is how a merchant finds."""
    env = clean_env(
        BANQ_ENVIRONMENT="production",
        BANQ_TOKEN_URL=banq_emulator.token_url,
        BANQ_API_URL=banq_emulator.api_url,
    )

    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "banq_accounts",
            "--email",
            "merchant@emulator.banq.test",
            "--password-stdin",
        ],
        cwd=BASE,
        env=env,
        input="merchant-password\n",
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "BANQ_MERCHANT_GUID=" in result.stdout
    assert "BANQ_ACCOUNT_SPACE_ID=" in result.stdout
    assert "merchant-password" not in result.stdout + result.stderr
