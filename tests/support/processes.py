"""Live servers for the tests: the store and the task worker as real processes on the test
database, each with its output kept in a file. The one launcher behind ``live_store``,
``live_worker_factory`` and the production tests' clusters; the command lines come from
``storefront.processes``, as for `make run` and the benchmarks.

    store = launch_store({"BANQ_ENVIRONMENT": "emulator"})
    worker = launch_worker()
    wait_until_ready(store, worker)  # the store listens, the worker said it started
    ...
    store.stop(); worker.stop()

The environment (``live_env``) is this process's, with the test database's ``DATABASE_URL``,
``DJANGO_READ_DOT_ENV=false`` and ``STOREFRONT_URL`` the store's own URL, then the test's extra
variables on top. Data the test writes must be committed (``transactional_db``) for them to see
it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from storefront import processes
from tests.support.wait import wait_for

BASE_DIR = processes.BASE_DIR
START_TIMEOUT = 30.0
WORKER_STARTED = "started"  # the worker's first line: "Worker <id> started (...)"


@dataclass
class LiveProcess:
    """A process a test started: ``.output()`` is what it printed (stdout and stderr, or only
    stderr when its stdout was discarded, or split into ``.errors()``)."""

    name: str
    process: subprocess.Popen
    env: dict[str, str] = field(repr=False)
    log_path: str = field(repr=False, default="")
    errors_path: str = field(repr=False, default="")
    url: str = ""
    host: str = ""
    port: int = 0

    def output(self) -> str:
        return _read(self.log_path)

    def errors(self) -> str:
        return _read(self.errors_path)

    def alive(self) -> bool:
        return self.process.poll() is None

    def ready(self) -> bool:
        """A server listens on its port; the worker has said it started."""
        if self.port:
            return processes.listens(self.host, self.port)
        return WORKER_STARTED in self.output()

    def kill(self) -> None:
        """kill -9: whatever it was doing is cut short."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=5)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, as systemd stops it (killed after ``timeout`` seconds); its log files go."""
        processes.stop(self.process, timeout=timeout)
        for path in (self.log_path, self.errors_path):
            if path:
                Path(path).unlink(missing_ok=True)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace") if path else ""
    except OSError:
        return ""


def live_store_database_url() -> str:
    """A DATABASE_URL for the test database this process is using."""
    from django.db import connection

    data = connection.settings_dict
    engine = data["ENGINE"]
    if engine.endswith("sqlite3"):  # Django's, or django-prometheus's counting one
        name = str(data["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise RuntimeError("live servers need a file-based SQLite test database")
        return f"sqlite:///{Path(name).resolve()}"
    if "postgresql" in engine:
        user = quote(data.get("USER") or "", safe="")
        password = data.get("PASSWORD") or ""
        auth = f"{user}:{quote(password, safe='')}" if password else user
        host = data.get("HOST") or "127.0.0.1"
        port = data.get("PORT") or "5432"
        return f"postgres://{auth}@{host}:{port}/{quote(str(data['NAME']), safe='')}"
    raise RuntimeError(f"live servers can't share a {engine} database")


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


def _log_file(name: str):
    return tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by launch, read and removed later
        prefix=f"live-{name}-", suffix=".log", delete=False
    )


def launch(
    name: str,
    command: list[str],
    env: dict[str, str],
    *,
    keep_stdout: bool = True,
    split: bool = False,
    **where,
) -> LiveProcess:
    """Start ``command``. Its stderr goes to its log, and its stdout too unless ``keep_stdout``
    is false (discarded) or ``split`` (then stderr has a log of its own, ``errors()``)."""
    log = _log_file(name)
    errors = _log_file(f"{name}-stderr") if split else None
    process = processes.start(
        command,
        env=env,
        stdout=log if keep_stdout else subprocess.DEVNULL,
        stderr=errors or log,
    )
    log.close()
    if errors is not None:
        errors.close()
    return LiveProcess(
        name=name,
        process=process,
        env=env,
        log_path=log.name,
        errors_path=errors.name if errors else "",
        **where,
    )


def launch_store(
    extra_env: dict[str, str] | None = None,
    *,
    port: int = 0,
    name: str = "store",
    access_log: bool = False,
    split: bool = False,
) -> LiveProcess:
    """``python -m storefront.serve`` on ``port`` (a free one by default), not waited for.
    Without ``access_log`` its stdout (the access log) is discarded."""
    host = processes.LOOPBACK
    port = port or processes.free_port(host)
    url = f"http://{host}:{port}"
    return launch(
        name,
        processes.store_command(host=host, port=port),
        live_env(extra_env, STOREFRONT_URL=url),
        keep_stdout=access_log,
        split=split,
        url=url,
        host=host,
        port=port,
    )


def launch_worker(extra_env: dict[str, str] | None = None, *, name: str = "worker") -> LiveProcess:
    """``manage.py worker``, polling every 0.1 s, not waited for."""
    env = live_env({"WORKER_POLL_SECONDS": "0.1", **(extra_env or {})})
    return launch(name, processes.worker_command(), env)


def wait_until_ready(*started: LiveProcess, timeout: float = START_TIMEOUT) -> None:
    """Wait until every process is ready (``LiveProcess.ready``). One that exits or is not ready
    in time fails the test with its output, after all of them are stopped."""

    def all_ready() -> bool:
        for proc in started:
            if not proc.alive():
                _fail(started, f"{proc.name} exited with {proc.process.returncode}")
        return all(proc.ready() for proc in started)

    try:
        wait_for(all_ready, timeout=timeout, what="ready")
    except AssertionError:
        waiting = [proc for proc in started if not proc.ready()]
        _fail(started, "Not ready in time: " + ", ".join(proc.name for proc in waiting))


def _fail(started: tuple[LiveProcess, ...], reason: str) -> None:
    outputs = "\n".join(f"--- {p.name}:\n{p.output()[-3000:]}{p.errors()[-2000:]}" for p in started)
    for proc in started:
        proc.stop()
    pytest.fail(f"{reason}\n{outputs}", pytrace=False)
