"""`make run`: the store (daphne), its task worker and, in emulator mode, the banq emulator.

    python -m storefront.devserver [--host 127.0.0.1] [--port 8000] [--emulator-port 8001] [--fresh]

Checks the ports first (a busy port is a clear message, not a traceback), starts the emulator
(its state kept in ``.run/emulator-state.json``; ``--fresh`` starts it empty), registers the
store's webhook URL with it through the real operator command, starts the store and the worker,
prints the URLs, and stops all three on Ctrl-C or SIGTERM. Every line each process prints is
prefixed with its name. The store and the worker share their metrics through ``.run/prometheus``
(emptied at each start), so the store's ``/metrics`` counts the worker's work too. While it runs,
``.run/make-run.json`` tells management commands started from another shell which store and
emulator URLs to use (``storefront/settings.py`` reads it).
With BANQ_ENVIRONMENT=sandbox or production no emulator starts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO
from urllib.error import URLError
from urllib.request import urlopen

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"
RUN_FILE = RUN_DIR / "make-run.json"
EMULATOR_STATE = RUN_DIR / "emulator-state.json"
METRICS_DIR = RUN_DIR / "prometheus"
NAME_WIDTH = 8
_print_lock = threading.Lock()


def say(name: str, text: str, *, stream: IO[str] | None = None) -> None:
    """One line of output, prefixed with the process it comes from."""
    stream = stream or sys.stdout
    with _print_lock:
        stream.write(f"{name:<{NAME_WIDTH}} | {text}\n")
        stream.flush()


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_http(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urlopen(url, timeout=2):
                return True
        except URLError as exc:
            # An HTTP error status still means the server answers.
            if getattr(exc, "code", None):
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def emulator_answers(url: str) -> bool:
    try:
        with urlopen(f"{url}/_emulator/api/state", timeout=2) as response:
            return b'"data"' in response.read(4096)
    except OSError:
        return False


def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start ``command`` with its output copied line by line under ``name``."""
    proc = subprocess.Popen(
        command,
        cwd=BASE_DIR,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,  # Ctrl-C reaches this launcher, which stops them in order
    )

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            say(name, line.rstrip("\n"))

    threading.Thread(target=pump, name=f"{name}-output", daemon=True).start()
    return proc


def stop(*procs: subprocess.Popen | None) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        if proc is None:
            continue
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def register_webhook(store_url: str, env: dict[str, str]) -> tuple[bool, str]:
    """Point the emulator's webhook config at this store, with the real operator command.
    Returns ``(ok, what happened in a few words)``."""
    result = subprocess.run(
        [sys.executable, "manage.py", "banq_register_webhook", "--base-url", store_url],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = (result.stdout + result.stderr).strip().splitlines()
    if result.returncode != 0:
        return False, lines[-1] if lines else "?"
    if any("Creating" in line for line in lines):
        return True, "not registered yet: registered this store's webhook URL"
    if any("changing" in line for line in lines):
        return True, "pointed banq's webhook config at this store"
    return True, "already pointing at this store"


def record_run(*, store_url: str, emulator_url: str | None) -> None:
    RUN_DIR.mkdir(exist_ok=True)
    data = {"pid": os.getpid(), "store_url": store_url, "emulator_url": emulator_url}
    RUN_FILE.write_text(json.dumps(data, indent=2) + "\n")


def forget_run() -> None:
    try:
        if json.loads(RUN_FILE.read_text()).get("pid") == os.getpid():
            RUN_FILE.unlink()
    except (OSError, ValueError):
        pass


def metrics_dir_fresh() -> str:
    """The store's and the worker's shared metrics directory (prometheus_client's multi-process
    mode), emptied: their counters start at zero with this run, and /metrics shows both."""
    METRICS_DIR.mkdir(parents=True, exist_ok=True)
    for stale in METRICS_DIR.glob("*.db"):
        stale.unlink(missing_ok=True)
    return str(METRICS_DIR)


def watch(
    *, store: subprocess.Popen, worker: subprocess.Popen, emulator: subprocess.Popen | None
) -> int:
    """Wait until the store or the emulator stops (its exit status is returned). A worker that
    stops is reported once, and the store keeps serving: its /readyz names the worker, as it
    would in production."""
    worker_reported = False
    while True:
        for proc, name in ((store, "store"), (emulator, "emulator")):
            if proc is not None and proc.poll() is not None:
                say("make run", f"The {name} stopped (exit {proc.returncode}).", stream=sys.stderr)
                return proc.returncode or 1
        if not worker_reported and worker.poll() is not None:
            worker_reported = True
            say(
                "make run",
                f"The worker stopped (exit {worker.returncode}): e-mails, webhook retries, the "
                "sweep and expiry wait until `make run` starts again; /readyz says so.",
                stream=sys.stderr,
            )
        time.sleep(0.5)


def _terminate(signum, frame):  # SIGTERM (kill, systemd) stops everything like Ctrl-C does
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--emulator-port", type=int, default=8001)
    parser.add_argument(
        "--fresh", action="store_true", help="start the emulator empty (forget its saved state)"
    )
    args = parser.parse_args(argv)

    store_url = f"http://{args.host}:{args.port}"
    emulator_url = f"http://{args.host}:{args.emulator_port}"
    # This launcher decides where the store and the emulator run: the children use these URLs,
    # not what a previous `make run` recorded.
    os.environ["STOREFRONT_URL"] = os.environ.get("STOREFRONT_URL") or store_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")
    os.environ["STOREFRONT_IGNORE_RUN_FILE"] = "1"

    from django.conf import settings

    use_emulator = settings.BANQ_ENVIRONMENT == "emulator"
    if use_emulator:
        os.environ["BANQ_EMULATOR_URL"] = emulator_url

    # An emulator someone already started on that port (`make emulator`) is used, not refused.
    emulator_running = (
        use_emulator
        and not port_is_free(args.host, args.emulator_port)
        and emulator_answers(emulator_url)
    )
    start_emulator = use_emulator and not emulator_running
    busy = [
        p
        for p in ([args.port] + ([args.emulator_port] if start_emulator else []))
        if not port_is_free(args.host, p)
    ]
    if busy:
        names = ", ".join(str(p) for p in busy)
        print(
            f"{'Ports' if len(busy) > 1 else 'Port'} {names} on {args.host}: already in use "
            "(another `make run`?).\n"
            "Stop that process, or choose other ports: make run PORT=8010 BANQ_EMULATOR_PORT=8011",
            file=sys.stderr,
        )
        return 2

    signal.signal(signal.SIGTERM, _terminate)
    env = dict(os.environ)
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir_fresh()
    emulator = store = worker = None
    me = "make run"
    try:
        if start_emulator:
            RUN_DIR.mkdir(exist_ok=True)
            command = [
                sys.executable,
                "-m",
                "banq.emulator",
                "--host",
                args.host,
                "--port",
                str(args.emulator_port),
                "--merchant-name",
                settings.STORE_NAME,
                "--state-file",
                str(EMULATOR_STATE),
            ]
            if args.fresh:
                command.append("--fresh")
            emulator = start("emulator", command, env)
            if not wait_for_http(f"{emulator_url}/_emulator/api/state", emulator):
                say(me, "The banq emulator did not start; see its output above.", stream=sys.stderr)
                return 1
        store = start(
            "store",
            [
                sys.executable,
                "-m",
                "storefront.serve",
                "-b",
                args.host,
                "-p",
                str(args.port),
                "storefront.asgi:application",
            ],
            env,
        )
        if not wait_for_http(f"{store_url}/", store):
            say(me, "The store did not start; see its output above.", stream=sys.stderr)
            return 1
        worker = start("worker", [sys.executable, "manage.py", "worker"], env)
        webhook_note = ""
        if use_emulator:
            ok, what = register_webhook(store_url, env)
            say(me, f"webhook: {what}" if ok else f"webhook registration failed: {what}")
            webhook_note = "   (its webhooks reach this store)" if ok else ""
        record_run(store_url=store_url, emulator_url=emulator_url if use_emulator else None)
        lines = [
            "",
            f"  Store:          {store_url}/",
            f"  Admin:          {store_url}/admin/",
        ]
        if use_emulator:
            already = "" if start_emulator else " (already running)"
            lines.append(f"  banq emulator:  {emulator_url}/_emulator/{already}{webhook_note}")
        else:
            lines.append(f"  banq:           {settings.BANQ_ENVIRONMENT} ({settings.BANQ_API_URL})")
        lines += [
            "  Worker:         running (outbox e-mails, webhook retries, banq sweep, expiry)",
            "  Press Ctrl-C to stop.",
            "",
        ]
        with _print_lock:
            print("\n".join(lines), flush=True)
        return watch(store=store, worker=worker, emulator=emulator)
    except KeyboardInterrupt:
        say(me, "Stopping.")
        return 0
    finally:
        stop(store, worker, emulator)
        forget_run()


if __name__ == "__main__":
    sys.exit(main())
