"""pytest fixtures: the real store over real HTTP (daphne in a subprocess).

API
---
``live_store`` (function-scoped, uses ``transactional_db``): a running store, ``.url`` like
``http://127.0.0.1:54321`` (no trailing slash). Extra environment for the server comes from the
``live_store_env`` fixture (a dict, empty by default), which a test module or test can override::

    @pytest.fixture
    def live_store_env(emulator):
        return {"BANQ_EMULATOR_URL": emulator.url}

``live_store_factory`` (function-scoped, uses ``transactional_db``): ``start(extra_env=None)``
returns another running ``LiveStore``; every store started is stopped at teardown.

``emulator_store`` / ``emulator_worker``: the store and the task worker against
``banq_emulator``, the store's webhook URL registered there (token ``EMULATOR_WEBHOOK_TOKEN``,
also set in this process's settings); ``emulator_store_env`` is their environment.

The server sees the test database (``DATABASE_URL`` built from the test connection),
``DJANGO_READ_DOT_ENV=false``, ``STOREFRONT_URL`` = its own URL, ``REDIS_URL`` unchanged from
this process's environment, and then ``extra_env`` on top. Data the test writes is committed
(``transactional_db``), so the server sees it; the flush after the test runs after the server
has stopped.
"""

from __future__ import annotations

import pytest

from tests.support.processes import LiveProcess, launch_store, wait_until_ready

LiveStore = LiveProcess


def live_store_start(
    extra_env: dict[str, str] | None = None, *, port: int = 0, access_log: bool = False
) -> LiveStore:
    """Start daphne serving storefront.asgi on ``port`` (a free one by default); wait until it
    listens. With ``access_log``, its stdout (the access log) goes to ``output()`` too."""
    store = launch_store(extra_env, port=port, access_log=access_log)
    wait_until_ready(store)
    return store


@pytest.fixture
def live_store_env() -> dict[str, str]:
    """Extra environment for ``live_store``; override it to point the store elsewhere."""
    return {}


@pytest.fixture
def live_store_factory(transactional_db):
    started: list[LiveStore] = []

    def start(
        extra_env: dict[str, str] | None = None, *, port: int = 0, access_log: bool = False
    ) -> LiveStore:
        store = live_store_start(extra_env, port=port, access_log=access_log)
        started.append(store)
        return store

    yield start
    for store in started:
        store.stop()


@pytest.fixture
def live_store(live_store_factory, live_store_env) -> LiveStore:
    return live_store_factory(live_store_env)


EMULATOR_WEBHOOK_TOKEN = "live-store-webhook-token-00112233445566778899"


def emulator_store_env(banq_emulator, emulator_settings, token: str) -> dict[str, str]:
    """Environment for a live store that talks to ``banq_emulator`` and accepts ``token``.

    The test process's settings get the same token, so tests can build the webhook URL.
    """
    emulator_settings.BANQ_WEBHOOK_TOKEN = token
    return {
        "BANQ_ENVIRONMENT": "emulator",
        "BANQ_EMULATOR_URL": banq_emulator.url,
        "BANQ_WEBHOOK_TOKEN": token,
    }


@pytest.fixture(name="emulator_store_env")
def emulator_store_env_fixture(banq_emulator, emulator_settings) -> dict[str, str]:
    return emulator_store_env(banq_emulator, emulator_settings, EMULATOR_WEBHOOK_TOKEN)


@pytest.fixture
def emulator_store(banq_emulator, live_store_factory, emulator_store_env) -> LiveStore:
    store = live_store_factory(emulator_store_env)
    banq_emulator.set_webhook_config(
        f"{store.url}/webhooks/banq/{EMULATOR_WEBHOOK_TOKEN}/payment-status/"
    )
    return store


@pytest.fixture
def emulator_worker(live_worker_factory, emulator_store_env, emulator_store):
    return live_worker_factory({**emulator_store_env, "STOREFRONT_URL": emulator_store.url})
