"""The emulator's access log: banq's 404 for a webhook config not registered yet is said in words
(`make run` asks for it on every start, before registering), other answers by their status."""

from __future__ import annotations

import requests

from tests.support.emulator import EMULATOR_CREDENTIALS
from tests.support.wait import wait_for


def _logged(emulator, needle: str, timeout: float = 5.0) -> str:
    """The emulator's log once it holds needle (lines are written just after the answers)."""
    return wait_for(
        lambda: needle in (log := emulator.log()) and log,
        timeout=timeout,
        what=f"logged: {needle}",
    )


def test_no_webhook_config_yet_is_logged_in_words_not_as_a_bare_404(banq_emulator, api_token):
    space = EMULATOR_CREDENTIALS["BANQ_ACCOUNT_SPACE_ID"]
    path = f"/api/v1/account-spaces/{space}/webhook-config"

    answer = requests.get(
        banq_emulator.url + path, headers={"Authorization": f"Bearer {api_token}"}, timeout=5
    )

    assert answer.status_code == 404  # what banq answers
    assert answer.json()["error"]["code"] == "not_found"
    log = _logged(banq_emulator, f"banq_emulator.access: GET {path}: no webhook config registered")
    assert f"GET {path} 404" not in log
