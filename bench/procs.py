"""Starting and measuring the processes a benchmark runs: the emulator, the store (one or two
daphne workers), the probe server, the stock server (the framework floor) and the task worker, on
free loopback ports, against a fresh database (SQLite as `make run` sets it up, or PostgreSQL).

Two profiles:

- ``run``: as `make run` runs them: the store's logging (INFO, daphne's access log), e-mail to
  the console, prometheus_client's multi-process files, and every process's output read from a
  pipe line by line (as ``storefront.devserver`` reads it; here it is counted, not printed).
- ``quiet``: warning-level logging, daphne at ``-v 0``, a dummy mail backend, output discarded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from storefront import processes
from storefront.processes import BASE_DIR, free_port

RESULTS = BASE_DIR / "bench" / "results"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
WEBHOOK_TOKEN = "bench-webhook-token-0123456789abcdefghijkl"
PG_URL = "postgres://postgres@127.0.0.1:5432/{name}"
REDIS_URL = "redis://127.0.0.1:6379/{db}"
# The PostgreSQL database a run re-creates (dropped first!) and the Redis db it uses: set them when
# several people bench on one machine at once.
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "bench_storefront")
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "9"))
PROFILES = ("quiet", "run")
# The probe runs on the store's own ASGI application (its edge, its handler, its middleware) with
# other URLs (bench/probe/settings.py); the stock server on Django's stock handler and stock
# middleware, for the framework floor alone. tests/bench/test_probe.py checks the first.
PROBE_APP = processes.STORE_APP
STOCK_APP = "bench.stock.asgi:application"


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    port: int = 0
    env: dict[str, str] = field(default_factory=dict, repr=False)
    output: Output | None = None  # the pipe's reader, in the `run` profile

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> float:
        """CPU seconds (user + system) this process has used so far."""
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss(self) -> int:
        """Resident memory in bytes."""
        pages = int(Path(f"/proc/{self.popen.pid}/statm").read_text().split()[1])
        return pages * PAGE_SIZE

    def stop(self) -> None:
        processes.stop(self.popen, timeout=15)


class Output:
    """Reads a process's output from its pipe line by line, as `make run` does, and counts it."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.lines = 0
        self.bytes = 0
        self.thread = threading.Thread(target=self._pump, args=(popen,), daemon=True)
        self.thread.start()

    def _pump(self, popen: subprocess.Popen) -> None:
        assert popen.stdout is not None
        for line in popen.stdout:
            self.lines += 1
            self.bytes += len(line)


def start_piped(name: str, command: list[str], env: dict[str, str] | None, port: int = 0) -> Proc:
    """Start ``command``: its output read from a pipe in the `run` profile (``env`` says which),
    discarded in the quiet one."""
    if env is not None and env.get("BENCH_PROFILE") == "run":
        popen = processes.start(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return Proc(name, popen, port, env or {}, Output(popen))
    popen = processes.start(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Proc(name, popen, port, env or {})


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    if processes.wait_until(lambda: processes.answers(url), proc, timeout=timeout):
        return
    if proc.poll() is not None:
        raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def database_url(kind: str) -> str:
    """A fresh database for the run: a new SQLite file, or a re-created PostgreSQL database."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        path = RESULTS / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    name = PG_DATABASE
    with psycopg.connect(PG_URL.format(name="postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return PG_URL.format(name=name)


# Set when the run is on PostgreSQL. On SQLite the database works inside the server (its CPU is
# already the server's), and PostgreSQL's processes belong to whatever else the machine runs.
MEASURE_DATABASE_CPU = False


def machine_cpu() -> tuple[float, float]:
    """``(busy, total)`` CPU seconds of the whole machine so far, all cores (``/proc/stat``;
    idle and I/O wait are not busy)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    total = sum(fields)
    return (total - fields[3] - fields[4]) / CLOCK_TICKS, total / CLOCK_TICKS


def database_cpu() -> float:
    """CPU seconds (user + system) used so far by PostgreSQL's backends serving the benchmark's
    database (the store's, the worker's and the probe's alike; the figure is taken around one
    path's load). Backends of other databases are left out: other people's tests may run on the
    same server. A backend that ends meanwhile takes its CPU with it, so the pools keep theirs
    open."""
    if not MEASURE_DATABASE_CPU:
        return 0.0
    total = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            text = (proc / "stat").read_text()
            if text.partition(") ")[0].rsplit("(", 1)[-1] != "postgres":
                continue
            # A backend's title: "postgres: [<cluster>: ]<user> <database> <client> <state>".
            title = (proc / "cmdline").read_bytes().replace(b"\0", b" ").split()
        except OSError:
            continue
        words = [w for w in title if not w.endswith(b":")]
        if len(words) < 2 or words[1].decode(errors="replace") != PG_DATABASE:
            continue
        fields = text.partition(") ")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def production_services_missing() -> str:
    """Why the PostgreSQL + Redis profile can't run here, or "" when both answer."""
    try:
        import psycopg

        with psycopg.connect(PG_URL.format(name="postgres"), connect_timeout=3):
            pass
    except Exception as exc:  # noqa: BLE001 - any failure means: not available
        return f"PostgreSQL at 127.0.0.1:5432 does not answer ({type(exc).__name__})"
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            if not sock.recv(16).startswith(b"+PONG"):
                return "Redis at 127.0.0.1:6379 does not answer PING"
    except OSError as exc:
        return f"Redis at 127.0.0.1:6379 does not answer ({type(exc).__name__})"
    return ""


def base_env(
    *, database: str, redis: bool, emulator_url: str, store_url: str, profile: str = "quiet"
) -> dict[str, str]:
    """The environment of the store, the probe and the worker in ``profile`` (``PROFILES``)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "BANQ_", "DATABASE_", "REDIS_", "ORDER_", "EMAIL_"))
    }
    env.update(
        {
            "DJANGO_READ_DOT_ENV": "false",
            "STOREFRONT_IGNORE_RUN_FILE": "1",
            "DATABASE_URL": database,
            "BANQ_ENVIRONMENT": "emulator",
            "BANQ_EMULATOR_URL": emulator_url,
            "BANQ_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "BANQ_LINK_RATE_LIMIT": "1000000",
            "BANQ_LINK_RATE_LIMIT_IP": "1000000",  # every client of the benchmark is one IP
            "STOREFRONT_URL": store_url,
            "PYTHONUNBUFFERED": "1",
            "BENCH_PROFILE": profile,
        }
    )
    if profile == "run":
        # `make run`'s: no LOG_LEVEL (INFO), no EMAIL_URL (the console), one metrics directory.
        metrics = RESULTS / "prometheus"
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
    else:
        env.update({"EMAIL_URL": "dummymail://", "LOG_LEVEL": "WARNING"})
    if redis:
        env["REDIS_URL"] = REDIS_URL.format(db=REDIS_DB)
    return env


def start_emulator(profile: str = "quiet") -> Proc:
    port = free_port()
    env = {**os.environ, "BENCH_PROFILE": profile, "PYTHONUNBUFFERED": "1"}
    proc = start_piped("emulator", processes.emulator_command(port=port), env, port)
    wait_http(f"{proc.url}/_emulator/api/state", proc.popen)
    return proc


def start_server(name: str, env: dict[str, str], settings_module: str, app: str) -> Proc:
    port = free_port()
    quiet = env.get("BENCH_PROFILE") != "run"
    proc = start_piped(
        name,
        processes.store_command(port=port, app=app, options=["-v", "0"] if quiet else []),
        {**env, "DJANGO_SETTINGS_MODULE": settings_module},
        port,
    )
    wait_http(f"{proc.url}/", proc.popen)
    return proc


def start_store(env: dict[str, str], name: str = "store") -> Proc:
    return start_server(name, env, "bench.store_settings", "storefront.asgi:application")


def start_probe(env: dict[str, str], token: str) -> Proc:
    """The probe server: the store's ASGI application and settings with the probes' URLs. It
    uses the benchmark's own token (asks the emulator for none), so the tokens the emulator
    issues during a run are the store's."""
    return start_server(
        "probe", {**env, "BENCH_PROBE_TOKEN": token}, "bench.probe.settings", PROBE_APP
    )


def start_stock(env: dict[str, str]) -> Proc:
    """Django's stock ASGI handler and stock middleware with a bare JSON view: the floor."""
    return start_server("stock", env, "bench.stock.settings", STOCK_APP)


def start_worker(env: dict[str, str]) -> Proc:
    return start_piped("worker", processes.worker_command(), env)


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
