"""Starting and measuring the processes a benchmark runs: the emulator, the store (one or two
daphne workers), the probe server and the task worker, on free loopback ports, against a fresh
database (SQLite as `make run` sets it up, or PostgreSQL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    port: int = 0
    env: dict[str, str] = field(default_factory=dict, repr=False)

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

    name = "bench_storefront"
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
    """CPU seconds (user + system) used so far by PostgreSQL's processes on this machine (its
    backends serve the store and the probe alike; the figure is taken around one path's load)."""
    if not MEASURE_DATABASE_CPU:
        return 0.0
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition(") ")
        if name.rsplit("(", 1)[-1] != "postgres":
            continue
        fields = rest.split()
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


def base_env(*, database: str, redis: bool, emulator_url: str, store_url: str) -> dict[str, str]:
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
            "EMAIL_URL": "dummymail://",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if redis:
        env["REDIS_URL"] = REDIS_URL.format(db=9)
    return env


def start_emulator() -> Proc:
    port = free_port()
    popen = processes.start(
        processes.emulator_command(port=port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proc = Proc("emulator", popen, port)
    wait_http(f"{proc.url}/_emulator/api/state", popen)
    return proc


def start_server(name: str, env: dict[str, str], settings_module: str, app: str) -> Proc:
    port = free_port()
    popen = processes.start(
        processes.store_command(port=port, app=app, options=["-v", "0"]),
        env={**env, "DJANGO_SETTINGS_MODULE": settings_module},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proc = Proc(name, popen, port, env)
    wait_http(f"{proc.url}/", popen)
    return proc


def start_store(env: dict[str, str], name: str = "store") -> Proc:
    return start_server(name, env, "bench.store_settings", "storefront.asgi:application")


def start_probe(env: dict[str, str], token: str) -> Proc:
    """The probe server. It uses the benchmark's own token (asks the emulator for none), so the
    tokens the emulator issues during a run are the store's."""
    return start_server(
        "probe",
        {**env, "BENCH_PROBE_TOKEN": token},
        "bench.probe.settings",
        "bench.probe.asgi:application",
    )


def start_worker(env: dict[str, str]) -> Proc:
    popen = processes.start(
        processes.worker_command(),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Proc("worker", popen)


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
