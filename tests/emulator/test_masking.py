"""The store's webhook token stays out of the emulator's logs, state and pages; one log format."""

from __future__ import annotations

import re
import secrets

import pytest
import requests

from banq_emulator.redact import mask_text
from tests.emulator.conftest import ACCOUNT_SPACE_ID, auth
from tests.support.wait import wait_for

pytestmark = pytest.mark.integration

LOG_LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"banq_emulator(\.[a-z_]+)*: \S"
)


@pytest.fixture
def token() -> str:
    return "tok" + secrets.token_urlsafe(24)


def _hook(base: str, token: str) -> str:
    return f"{base}/webhooks/banq/{token}/payment-status/"


def _logged(emulator, needle: str, timeout: float = 5.0) -> str:
    """The emulator's log once it holds needle (lines are written just after the answers)."""
    return wait_for(
        lambda: needle in (log := emulator.log()) and log,
        timeout=timeout,
        what=f"logged: {needle}",
    )


def test_mask_text_keeps_four_characters_and_an_ellipsis():
    url = "http://shop.test/webhooks/banq/abcdefghijklmnop/payment-status/"

    assert mask_text(url) == "http://shop.test/webhooks/banq/abcd\u2026/payment-status/"
    assert mask_text("http://shop.test/webhooks/banq/abcdefgh") == (
        "http://shop.test/webhooks/banq/abcd\u2026"
    )
    assert (
        mask_text("http://shop.test/webhooks/banq/abc/x")
        == "http://shop.test/webhooks/banq/a\u2026/x"
    )
    assert mask_text("http://127.0.0.1:9/hook") == "http://127.0.0.1:9/hook"
    assert mask_text(mask_text(url)) == mask_text(url)


def test_token_is_masked_in_state_deliveries_dashboard_and_log(
    banq_emulator, receiver, token, payment_id
):
    url = _hook(receiver.base, token)
    banq_emulator.set_webhook_config(url, types=("payment",))
    banq_emulator.complete(payment_id)
    (delivery,) = banq_emulator.wait_for_deliveries(1)

    state = requests.get(f"{banq_emulator.control_url}/state", timeout=5).text
    deliveries = requests.get(f"{banq_emulator.control_url}/deliveries", timeout=5).text
    dashboard = requests.get(f"{banq_emulator.url}/_emulator/", timeout=5).text
    log = _logged(banq_emulator, f"Webhook {delivery['id']} Payment completed attempt 1")

    shown = f"/webhooks/banq/{token[:4]}\u2026/payment-status/"
    for name, text in (("state", state), ("deliveries", deliveries), ("dashboard", dashboard)):
        assert token not in text, name
    assert (
        shown
        in requests.get(f"{banq_emulator.control_url}/state", timeout=5).json()["data"][
            "webhookConfigs"
        ][ACCOUNT_SPACE_ID]["url"]
    )
    assert banq_emulator.deliveries()[0]["url"] == mask_text(url)
    assert shown in dashboard
    assert token not in log
    assert shown in log
    # The delivery itself went to the full URL, and the control API still returns it whole.
    assert receiver.paths == [f"/webhooks/banq/{token}/payment-status/"]
    assert banq_emulator.webhook_config()["url"] == url


def test_token_in_a_connection_error_is_masked(banq_emulator, token, payment_id):
    banq_emulator.set_webhook_config(
        _hook("http://127.0.0.1:9", token), retry_count=0, types=("payment",)
    )
    banq_emulator.complete(payment_id)
    (delivery,) = banq_emulator.wait_for_deliveries(1)

    assert delivery["status"] == "failed"
    assert "/webhooks/banq/" in delivery["attempts"][0]["error"]
    assert token not in delivery["attempts"][0]["error"]
    log = _logged(banq_emulator, f"Webhook {delivery['id']} Payment completed attempt 1")
    assert "ConnectionError" in log
    assert token not in log
    assert token not in requests.get(f"{banq_emulator.url}/_emulator/", timeout=5).text


def test_banq_api_webhook_config_still_returns_the_url(banq_emulator, api_token, token):
    url = _hook("http://127.0.0.1:9", token)
    path = f"{banq_emulator.api_url}/account-spaces/{ACCOUNT_SPACE_ID}/webhook-config"

    requests.post(path, json={"url": url}, headers=auth(api_token), timeout=5)
    read = requests.get(path, headers=auth(api_token), timeout=5).json()["data"]

    assert read["url"] == url
    assert token not in banq_emulator.log()


def test_dashboard_form_with_the_masked_url_keeps_the_real_one(banq_emulator, token):
    url = _hook("http://127.0.0.1:9", token)
    banq_emulator.set_webhook_config(url)

    saved = requests.post(
        f"{banq_emulator.control_url}/webhook-config",
        data={"url": mask_text(url), "enabled": "on", "retryCount": "2"},
        allow_redirects=False,
        timeout=5,
    )

    assert saved.status_code == 303
    assert banq_emulator.webhook_config()["url"] == url
    assert banq_emulator.webhook_config()["retryCount"] == 2


def test_every_log_line_has_the_stores_format(banq_emulator, payment_id):
    banq_emulator.complete(payment_id)
    requests.get(f"{banq_emulator.url}/no-such-page", timeout=5)

    log = _logged(banq_emulator, " INFO banq_emulator.access: GET /no-such-page 404")
    lines = [line for line in log.splitlines() if line.strip()]

    assert [line for line in lines if not LOG_LINE.match(line)] == []
    assert any(" INFO banq_emulator.server: Payment " in line for line in lines)
