"""Production settings: the documented environment passes `check --deploy` without a warning,
HSTS is configurable, the secret key is never public, DEBUG and missing keys are errors outside
emulator mode, and the Redis channel layer keeps idle sockets open."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.checks import Error, Warning

from storefront.checks import storefront_safety_check

BASE = Path(settings.BASE_DIR)
PRODUCTION_ENV = BASE / "deploy" / "production.env"
# What a merchant fills in: the blanks of deploy/production.env.
FILLED = {
    "BANQ_CLIENT_ID": "client-id-from-banq",
    "BANQ_USERNAME": "api-user@shop.example.com",
    "BANQ_PASSWORD": "password-from-banq",
    "BANQ_MERCHANT_GUID": "6f1c2b9e-0000-4c5b-8e7f-9a0b1c2d3e4f",
    "BANQ_ACCOUNT_SPACE_ID": "3a7d9c1e-0000-4e8a-9c6d-0f1e2d3c4b5a",
    "BANQ_WIDGET_URL": "https://banq.example/widget/ecommerce.js",
}


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def clean_env(**values: str) -> dict[str, str]:
    """A process environment without any of the store's own variables, plus ``values``."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "BANQ_", "DATABASE_", "REDIS_", "STORE", "LOG_"))
    }
    return {**keep, "DJANGO_READ_DOT_ENV": "false", **values}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_of(env: dict[str, str], *names: str) -> dict:
    code = (
        "import json, storefront.settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {list(names)!r}}}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def production_env() -> dict[str, str]:
    documented = read_env_file(PRODUCTION_ENV)
    blanks = {name for name, value in documented.items() if not value}
    assert blanks == {*FILLED, "DJANGO_SECRET_KEY", "BANQ_WEBHOOK_TOKEN"}, blanks
    filled = {
        **documented,
        **FILLED,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "BANQ_WEBHOOK_TOKEN": secrets.token_urlsafe(32),
    }
    return clean_env(**filled)


def test_the_documented_production_environment_passes_check_deploy_without_a_warning():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_hsts_subdomains_and_preload_come_from_the_environment():
    env = production_env()
    assert settings_of(env, "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD") == {
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
    }
    env.update(DJANGO_HSTS_INCLUDE_SUBDOMAINS="false", DJANGO_HSTS_PRELOAD="false")
    result = manage("check", "--deploy", env=env)
    assert "security.W005" in result.stderr
    assert "security.W021" in result.stderr


def test_without_the_secret_key_production_fails_its_checks():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]

    result = manage("check", env=env)

    assert result.returncode == 1
    assert "storefront.E002" in result.stderr
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    ("email", "error"),
    [
        ({}, "storefront.E008"),
        ({"EMAIL_URL": "consolemail://"}, "storefront.E009"),
        ({"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}, "storefront.E009"),
        ({"EMAIL_URL": "filemail:///tmp/mails"}, "storefront.E009"),
    ],
)
def test_check_deploy_refuses_e_mails_printed_to_the_console_outside_emulator_mode(email, error):
    env = {k: v for k, v in production_env().items() if not k.startswith("EMAIL_")}

    result = manage("check", "--deploy", env={**env, **email})

    assert result.returncode == 1
    assert error in result.stderr
    assert "signed order links" in result.stderr
    assert "EMAIL_URL" in result.stderr  # the hint names what to set


def test_an_explicit_e_mail_backend_passes_and_emulator_mode_may_print_e_mails():
    env = {k: v for k, v in production_env().items() if not k.startswith("EMAIL_")}
    env["EMAIL_BACKEND"] = "django.core.mail.backends.smtp.EmailBackend"

    production = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    emulator = manage("check", env={k: v for k, v in clean_env().items() if "EMAIL" not in k})

    assert production.returncode == 0, production.stderr
    assert emulator.returncode == 0, emulator.stderr
    assert settings_of(clean_env(), "EMAIL_BACKEND")["EMAIL_BACKEND"].endswith(
        "console.EmailBackend"
    )


@pytest.mark.parametrize(
    "key",
    [
        "dev-only-insecure-key-banq-storefront-do-not-use-in-production",
        "change-me-to-a-long-random-string",
    ],
)
def test_a_published_key_is_an_error_in_production_and_never_signs_anything(key):
    env = production_env()
    env["DJANGO_SECRET_KEY"] = key

    result = manage("check", env=env)

    assert result.returncode == 1
    assert "storefront.E003" in result.stderr
    assert settings_of(env, "SECRET_KEY")["SECRET_KEY"] != key


def test_emulator_mode_signs_with_this_checkouts_own_key_from_a_git_ignored_file():
    first = settings_of(clean_env(), "SECRET_KEY", "SECRET_KEY_FILE", "SECRET_KEY_SOURCE")
    second = settings_of(clean_env(DJANGO_DEBUG="true"), "SECRET_KEY")

    key_file = Path(first["SECRET_KEY_FILE"])
    assert first["SECRET_KEY_SOURCE"] == "checkout"
    assert first["SECRET_KEY"] == key_file.read_text().strip() == second["SECRET_KEY"]
    assert len(first["SECRET_KEY"]) >= 50
    assert first["SECRET_KEY"] not in (BASE / "storefront" / "settings.py").read_text()
    assert key_file.stat().st_mode & 0o077 == 0  # readable by its owner only
    ignored = subprocess.run(["git", "check-ignore", "-q", str(key_file)], cwd=BASE, check=False)
    assert ignored.returncode == 0, f"{key_file} is not git-ignored"


def test_a_published_key_in_emulator_mode_is_replaced_by_the_checkouts_own():
    env = clean_env(DJANGO_SECRET_KEY="change-me-to-a-long-random-string")
    found = settings_of(env, "SECRET_KEY", "SECRET_KEY_SOURCE")
    assert found["SECRET_KEY_SOURCE"] == "public"
    assert found["SECRET_KEY"] == settings_of(clean_env(), "SECRET_KEY")["SECRET_KEY"]


def test_the_checkout_key_is_generated_once_even_by_processes_starting_together(tmp_path):
    from storefront.settings import _checkout_secret_key

    path = tmp_path / ".run" / "secret-key"
    keys = {_checkout_secret_key(path) for _ in range(3)}
    assert len(keys) == 1
    assert keys == {path.read_text().strip()}


def test_debug_outside_emulator_mode_is_an_error(settings):
    settings.BANQ_ENVIRONMENT = "production"
    settings.DEBUG = True
    messages = storefront_safety_check()
    assert [(type(m), m.id) for m in messages] == [(Error, "storefront.E001")]


def test_debug_and_the_checkout_key_are_fine_in_emulator_mode(settings):
    settings.DEBUG = True
    settings.SECRET_KEY_SOURCE = "checkout"
    assert storefront_safety_check() == []


def test_a_published_key_in_emulator_mode_is_a_warning(settings):
    settings.SECRET_KEY_SOURCE = "public"
    assert [(type(m), m.id) for m in storefront_safety_check()] == [(Warning, "storefront.W003")]


def test_an_unreadable_trusted_proxy_network_is_an_error(settings):
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8", "nginx"]
    messages = storefront_safety_check()
    assert [m.id for m in messages] == ["storefront.E005"]
    assert "'nginx'" in messages[0].msg


def test_trusted_proxies_are_a_count_or_networks():
    assert settings_of(
        clean_env(DJANGO_TRUSTED_PROXIES="1"), "TRUSTED_PROXY_COUNT", "TRUSTED_PROXY_NETWORKS"
    ) == {"TRUSTED_PROXY_COUNT": 1, "TRUSTED_PROXY_NETWORKS": []}
    assert settings_of(
        clean_env(DJANGO_TRUSTED_PROXIES="127.0.0.1/32, 10.0.0.0/8"),
        "TRUSTED_PROXY_COUNT",
        "TRUSTED_PROXY_NETWORKS",
    ) == {"TRUSTED_PROXY_COUNT": 0, "TRUSTED_PROXY_NETWORKS": ["127.0.0.1/32", "10.0.0.0/8"]}


def test_the_redis_channel_layer_outwaits_its_own_blocking_read():
    """redis-py 6+ gives up a read after 5 s by default, exactly when channels_redis's blocking
    read returns: every idle order-page socket was closed with 1011 after about 5 s."""
    from channels_redis.core import RedisChannelLayer

    layers = settings_of(clean_env(REDIS_URL="redis://127.0.0.1:6379/0"), "CHANNEL_LAYERS")
    host = layers["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"][0]
    assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout
