"""Error alerts: Sentry events and ADMINS mail never carry a secret; without Sentry, ADMINS get
a mail for a server error, sent without making the request wait."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest
import sentry_sdk
from django.core.mail.backends.locmem import EmailBackend
from django.test import Client
from sentry_sdk.transport import Transport

from orders.access import order_access_key
from storefront.alerts import AdminMailHandler, mail_sender, sentry_init
from tests.factories import order_create
from tests.production.test_settings import BASE, clean_env, settings_of
from tests.storefront.alert_urls import ACCESS_TOKEN

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.storefront.alert_urls")]

PASSWORD = "banq-password-for-alerts-0123"
CLIENT_ID = "banq-client-id-for-alerts-4567"
WEBHOOK_TOKEN = "webhook-token-for-alerts-89abcdef0123"
CSRF = "csrfTokenForAlerts0123456789abcdef"


class KeepingTransport(Transport):
    """A local transport: keeps the envelopes it is given, sends nothing anywhere."""

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.envelopes: list = []

    def capture_envelope(self, envelope) -> None:
        self.envelopes.append(envelope)


@pytest.fixture
def secrets(settings):
    settings.BANQ_PASSWORD = PASSWORD
    settings.BANQ_CLIENT_ID = CLIENT_ID
    settings.BANQ_WEBHOOK_TOKEN = WEBHOOK_TOKEN
    return settings


@pytest.fixture
def failing_request(secrets):
    """A request holding every kind of secret, to a view that fails: (client, path, values)."""
    order = order_create()
    key = order_access_key(order=order)
    client = Client(raise_request_exception=False)
    session = client.session
    session["orders_owned"] = [order.public_id.hex]
    session.save()
    client.cookies["csrftoken"] = CSRF
    path = f"/webhooks/banq/{WEBHOOK_TOKEN}/fails/?key={key}"
    values = {
        "the webhook token": WEBHOOK_TOKEN,
        "banq's client id": CLIENT_ID,
        "banq's password": PASSWORD,
        "an access token": ACCESS_TOKEN,
        "the session cookie": session.session_key,
        "the CSRF token": CSRF,
        "the signed order key": key,
    }

    def send():
        return client.get(path, HTTP_X_CSRFTOKEN=CSRF, HTTP_AUTHORIZATION=f"Bearer {ACCESS_TOKEN}")

    return send, values


def leaked(text: str, values: dict[str, str]) -> list[str]:
    return [what for what, value in values.items() if value and value in text]


@pytest.fixture
def sentry_events():
    transport = KeepingTransport()
    sentry_init(dsn="https://public@sentry.invalid/1", environment="test", transport=transport)
    try:
        yield transport.envelopes
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None)


def test_no_secret_reaches_a_sentry_event_or_breadcrumb(failing_request, sentry_events):
    send, values = failing_request

    response = send()

    assert response.status_code == 500
    sentry_sdk.get_client().flush()
    events = [e.get_event() for e in sentry_events if e.get_event()]
    errors = [e for e in events if e.get("exception")]
    assert len(errors) == 1, events  # the failure was reported...
    payload = b"".join(e.serialize() for e in sentry_events).decode()
    assert "RuntimeError" in payload
    assert "about to fail" in payload  # ...with the log line before it, as a breadcrumb...
    assert leaked(payload, values) == []  # ...and none of the secrets
    assert "<redacted>" in payload
    frames = errors[0]["exception"]["values"][-1]["stacktrace"]["frames"]
    assert any(f.get("function") == "fails_with_secrets" and f.get("vars") for f in frames)


def test_the_settings_start_sentry_with_the_redaction_when_a_dsn_is_set():
    code = (
        "import django, json, sentry_sdk; django.setup(); "
        "from storefront.alerts import event_redact; o = sentry_sdk.get_client().options; "
        "print(json.dumps([o['before_send'] is event_redact, o['before_breadcrumb'] is "
        "event_redact, sentry_sdk.get_client().should_send_default_pii(), "
        "o['max_request_body_size'], "
        "sentry_sdk.get_client().is_active()]))"
    )
    env = clean_env(SENTRY_DSN="https://public@sentry.invalid/1")
    env["DJANGO_SETTINGS_MODULE"] = "storefront.settings"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [True, True, False, "never", True]


# --- ADMINS mail ------------------------------------------------------------------------------


@pytest.fixture
def admin_mail(settings):
    """The ``django.request`` logger mails ADMINS, as the settings set it up without
    SENTRY_DSN."""
    settings.ADMINS = [("Ops", "ops@example.com")]
    handler = AdminMailHandler()
    target = logging.getLogger("django.request")
    target.addHandler(handler)
    mail_sender.sent.clear()
    yield
    target.removeHandler(handler)
    mail_sender.drain()
    mail_sender.sent.clear()


def test_without_sentry_admins_get_a_mail_for_a_500_without_secrets(
    failing_request, admin_mail, mailoutbox
):
    send, values = failing_request

    assert send().status_code == 500
    mail_sender.drain()

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["ops@example.com"]
    assert "Internal Server Error: /webhooks/banq/<redacted>/fails/" in message.subject
    assert "RuntimeError" in message.body
    assert leaked(message.subject + message.body, values) == []


class SlowBackend(EmailBackend):
    """A mail server that takes two seconds to answer."""

    def send_messages(self, messages):
        time.sleep(2)
        return super().send_messages(messages)


def test_the_mail_does_not_hold_up_the_request(failing_request, admin_mail, settings, mailoutbox):
    settings.EMAIL_BACKEND = "tests.storefront.test_alerts.SlowBackend"
    send, _ = failing_request

    started = time.monotonic()
    assert send().status_code == 500
    answered = time.monotonic() - started
    mail_sender.drain()

    assert answered < 1.5  # the server error page, not the mail server's two seconds
    assert len(mailoutbox) == 1


def test_an_error_storm_is_not_a_mail_storm(failing_request, admin_mail, mailoutbox):
    send, _ = failing_request

    for _ in range(15):
        assert send().status_code == 500
    mail_sender.drain()

    assert len(mailoutbox) == 10  # MAIL_PER_MINUTE


def test_the_settings_mail_admins_only_without_sentry():
    code = (
        "import django, json, logging; django.setup(); "
        "print(json.dumps([type(h).__name__ for name in ('django', 'django.request') "
        "for h in logging.getLogger(name).handlers]))"
    )

    def handlers(**values: str) -> list[str]:
        env = clean_env(**values)
        env["DJANGO_SETTINGS_MODULE"] = "storefront.settings"
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=BASE, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    assert handlers(ADMINS="Ops <ops@example.com>") == ["AdminMailHandler"]
    assert handlers() == []
    assert handlers(ADMINS="ops@example.com", SENTRY_DSN="https://public@sentry.invalid/1") == []
    assert settings_of(clean_env(ADMINS="Ops <ops@example.com>, b@example.com"), "ADMINS") == {
        "ADMINS": [["Ops", "ops@example.com"], ["", "b@example.com"]]
    }
