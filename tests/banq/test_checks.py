"""banq configuration system checks, per environment."""

from __future__ import annotations

import pytest
from django.core.checks import Error, Warning, run_checks

from banq.checks import REQUIRED_CREDENTIALS, banq_settings_check

SECRET_VALUES = {
    "BANQ_CLIENT_ID": "real-client-id-value",
    "BANQ_USERNAME": "real-username-value",
    "BANQ_PASSWORD": "real-password-value",
    "BANQ_MERCHANT_GUID": "real-merchant-guid-value",
    "BANQ_ACCOUNT_SPACE_ID": "real-space-id-value",
    "BANQ_WEBHOOK_TOKEN": "real-webhook-token-value-long-enough",
}


def ids(messages):
    return sorted(m.id for m in messages)


def configure(settings, environment, **overrides):
    settings.BANQ_ENVIRONMENT = environment
    settings.BANQ_WIDGET_URL = "https://banq.example/widget/ecommerce.js"
    for name, value in {**SECRET_VALUES, **overrides}.items():
        setattr(settings, name, value)


def test_emulator_defaults_pass():
    assert banq_settings_check() == []


def test_the_check_is_registered(settings):
    settings.BANQ_ENVIRONMENT = "staging"
    assert "banq.E001" in [m.id for m in run_checks()]


def test_unknown_environment_is_an_error(settings):
    settings.BANQ_ENVIRONMENT = "staging"
    messages = banq_settings_check()
    assert ids(messages) == ["banq.E001"]
    assert isinstance(messages[0], Error)


@pytest.mark.parametrize("environment", ["sandbox", "production"])
def test_complete_configuration_passes(settings, environment):
    configure(settings, environment)
    assert banq_settings_check() == []


@pytest.mark.parametrize("environment", ["sandbox", "production"])
@pytest.mark.parametrize("name", REQUIRED_CREDENTIALS)
def test_each_missing_credential_is_an_error_naming_it(settings, environment, name):
    configure(settings, environment, **{name: ""})
    messages = banq_settings_check()
    assert ids(messages) == ["banq.E002"]
    assert name in messages[0].msg
    for value in SECRET_VALUES.values():
        assert value not in messages[0].msg
        assert value not in (messages[0].hint or "")


def test_all_missing_credentials_are_listed(settings):
    configure(settings, "sandbox", **dict.fromkeys(REQUIRED_CREDENTIALS, ""))
    messages = banq_settings_check()
    named = [name for name in REQUIRED_CREDENTIALS if any(name in m.msg for m in messages)]
    assert named == list(REQUIRED_CREDENTIALS)


def test_production_requires_the_widget_url(settings):
    configure(settings, "production", BANQ_WIDGET_URL="")
    assert ids(banq_settings_check()) == ["banq.E003"]


def test_sandbox_has_a_default_widget_url(settings):
    configure(settings, "sandbox", BANQ_WIDGET_URL="")
    assert banq_settings_check() == []


def test_short_webhook_token_is_a_warning(settings):
    configure(settings, "sandbox", BANQ_WEBHOOK_TOKEN="short-token")
    messages = banq_settings_check()
    assert ids(messages) == ["banq.W001"]
    assert isinstance(messages[0], Warning)
    assert "short-token" not in messages[0].msg


def test_unknown_token_field_style_is_an_error(settings):
    settings.BANQ_TOKEN_FIELD_STYLE = "user"
    assert ids(banq_settings_check()) == ["banq.E005"]
