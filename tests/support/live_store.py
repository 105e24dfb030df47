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

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0


@dataclass
class LiveStore:
    url: str
    host: str
    port: int
    process: subprocess.Popen
    env: dict[str, str] = field(repr=False)
    _stderr_path: str = field(repr=False, default="")

    def stderr(self) -> str:
        try:
            return Path(self._stderr_path).read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """kill -9: whatever the store was doing is cut short."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._stderr_path:
            Path(self._stderr_path).unlink(missing_ok=True)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def live_store_database_url() -> str:
    """A DATABASE_URL for the test database this process is using."""
    from django.db import connection

    data = connection.settings_dict
    engine = data["ENGINE"]
    if engine.endswith("sqlite3"):  # Django's, or django-prometheus's counting one
        name = str(data["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise RuntimeError("live_store needs a file-based SQLite test database")
        return f"sqlite:///{Path(name).resolve()}"
    if "postgresql" in engine:
        user = quote(data.get("USER") or "", safe="")
        password = data.get("PASSWORD") or ""
        auth = f"{user}:{quote(password, safe='')}" if password else user
        host = data.get("HOST") or "127.0.0.1"
        port = data.get("PORT") or "5432"
        return f"postgres://{auth}@{host}:{port}/{quote(str(data['NAME']), safe='')}"
    raise RuntimeError(f"live_store does not know how to share a {engine} database")


def _wait_until_listening(store: LiveStore, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.process.poll() is not None:
            pytest.fail(
                f"The store exited with {store.process.returncode} before listening:\n"
                f"{store.stderr()}",
                pytrace=False,
            )
        try:
            with socket.create_connection((store.host, store.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    stderr = store.stderr()
    store.stop()
    pytest.fail(
        f"The store did not answer on {store.url} within {timeout:.0f} s:\n{stderr}", pytrace=False
    )


def live_env(extra_env: dict[str, str] | None = None, **values: str) -> dict[str, str]:
    """The environment of a store process (server or worker) started by a test: the test
    database, no .env, then ``values`` and ``extra_env`` on top."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "storefront.settings",
        "DATABASE_URL": live_store_database_url(),
        "DJANGO_READ_DOT_ENV": "false",
        "PYTHONUNBUFFERED": "1",
        **values,
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    env.update({k: str(v) for k, v in (extra_env or {}).items()})
    return env


def live_store_start(
    extra_env: dict[str, str] | None = None, *, port: int = 0, access_log: bool = False
) -> LiveStore:
    """Start daphne serving storefront.asgi on ``port`` (a free one by default); wait until it
    listens. With ``access_log``, its stdout (the access log) goes to ``stderr()`` too."""
    host = "127.0.0.1"
    port = port or free_port(host)
    url = f"http://{host}:{port}"
    env = live_env(extra_env, STOREFRONT_URL=url)
    stderr_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, read on failure
        prefix="live-store-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storefront.serve",  # daphne, as `make run` and production start it
            "-b",
            host,
            "-p",
            str(port),
            "storefront.asgi:application",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=stderr_file if access_log else subprocess.DEVNULL,
        stderr=stderr_file,
    )
    stderr_file.close()
    store = LiveStore(
        url=url, host=host, port=port, process=process, env=env, _stderr_path=stderr_file.name
    )
    _wait_until_listening(store, START_TIMEOUT)
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
