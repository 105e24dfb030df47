"""`make run`: the store (daphne), its task worker and, in emulator mode, the banq emulator.

    python -m storefront.devserver [--host 127.0.0.1] [--port 8000] [--emulator-port 8001] [--fresh]

Checks the ports first (a busy port is a clear message, not a traceback), starts the emulator
(its state kept in ``.run/emulator-state.json``; ``--fresh`` starts it empty), registers the
store's webhook URL with it through the real operator command, starts the store and the worker,
prints the URLs, and stops all three on Ctrl-C or SIGTERM. Every line each process prints is
prefixed with its name. While it runs, ``.run/make-run.json`` tells management commands started
from another shell which store and emulator URLs to use (``storefront/settings.py`` reads it).
With BANQ_ENVIRONMENT=sandbox or production no emulator starts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO
from urllib.request import urlopen

from storefront import processes

BASE_DIR = processes.BASE_DIR
RUN_DIR = BASE_DIR / ".run"
RUN_FILE = RUN_DIR / "make-run.json"
EMULATOR_STATE = RUN_DIR / "emulator-state.json"
METRICS_DIR = RUN_DIR / "prometheus"
NAME_WIDTH = 8
ME = "make run"
_print_lock = threading.Lock()


def say(name: str, text: str, *, stream: IO[str] | None = None) -> None:
    """One line of output, prefixed with the process it comes from."""
    stream = stream or sys.stdout
    with _print_lock:
        stream.write(f"{name:<{NAME_WIDTH}} | {text}\n")
        stream.flush()


def emulator_answers(url: str) -> bool:
    try:
        with urlopen(f"{url}/_emulator/api/state", timeout=2) as response:
            return b'"data"' in response.read(4096)
    except OSError:
        return False


def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start ``command`` with its output copied line by line under ``name``."""
    proc = processes.start(
        command,
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


def _terminate(signum, frame):  # SIGTERM (kill, systemd) stops everything like Ctrl-C does
    raise KeyboardInterrupt


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--emulator-port", type=int, default=8001)
    parser.add_argument(
        "--fresh", action="store_true", help="start the emulator empty (forget its saved state)"
    )
    args = parser.parse_args(argv)
    args.store_url = f"http://{args.host}:{args.port}"
    args.emulator_url = f"http://{args.host}:{args.emulator_port}"
    return args


def ports_are_free(host: str, ports: list[int]) -> bool:
    """True when every port is free; else says which are busy and what to do."""
    busy = [port for port in ports if not processes.port_is_free(host, port)]
    if busy:
        names = ", ".join(str(p) for p in busy)
        print(
            f"{'Ports' if len(busy) > 1 else 'Port'} {names} on {host}: already in use "
            "(another `make run`?).\n"
            "Stop that process, or choose other ports: make run PORT=8010 BANQ_EMULATOR_PORT=8011",
            file=sys.stderr,
        )
    return not busy


class Run:
    """The processes `make run` started, by name, watched and stopped together."""

    def __init__(self, args: argparse.Namespace, *, use_emulator: bool, start_emulator: bool):
        self.args = args
        self.use_emulator = use_emulator
        self.start_emulator = start_emulator
        self.env = dict(os.environ)
        if not self.env.get("PROMETHEUS_MULTIPROC_DIR"):
            self.env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir_fresh()
        self.started: dict[str, subprocess.Popen] = {}

    def start_all(self, *, store_name: str) -> bool:
        """The emulator (when it is ours to start), the store, then the worker."""
        args = self.args
        if self.start_emulator:
            RUN_DIR.mkdir(exist_ok=True)
            options = ["--merchant-name", store_name, "--state-file", str(EMULATOR_STATE)]
            command = processes.emulator_command(
                host=args.host,
                port=args.emulator_port,
                options=[*options, *(["--fresh"] if args.fresh else [])],
            )
            url = f"{args.emulator_url}/_emulator/api/state"
            if not self._start_answering("emulator", command, url):
                return False
        command = processes.store_command(host=args.host, port=args.port)
        if not self._start_answering("store", command, f"{args.store_url}/"):
            return False
        self.started["worker"] = start("worker", processes.worker_command(), self.env)
        return True

    def _start_answering(self, name: str, command: list[str], url: str) -> bool:
        """``start``, then wait until ``url`` answers; False, and a line saying so, if it never
        does."""
        proc = self.started[name] = start(name, command, self.env)
        if processes.wait_until(lambda: processes.answers(url), proc, timeout=30.0, interval=0.2):
            return True
        say(ME, f"The {name} did not start; see its output above.", stream=sys.stderr)
        return False

    def banner(self, *, webhook: tuple[bool, str] | None, banq: str) -> str:
        args = self.args
        lines = [
            "",
            f"  Store:          {args.store_url}/",
            f"  Admin:          {args.store_url}/admin/",
        ]
        if self.use_emulator:
            already = "" if self.start_emulator else " (already running)"
            note = "   (its webhooks reach this store)" if webhook and webhook[0] else ""
            lines.append(f"  banq emulator:  {args.emulator_url}/_emulator/{already}{note}")
        else:
            lines.append(f"  banq:           {banq}")
        lines += [
            "  Worker:         running (outbox e-mails, webhook retries, banq sweep, expiry)",
            "  Press Ctrl-C to stop.",
            "",
        ]
        return "\n".join(lines)

    def watch(self) -> int:
        """Until the store or the emulator stops: its exit status (1 if it was 0). A worker that
        stops is said once, and the store keeps serving: its /readyz names the worker, as it
        would in production."""
        worker_said = False
        while True:
            for name, proc in self.started.items():
                if proc.poll() is None:
                    continue
                if name != "worker":
                    say(ME, f"The {name} stopped (exit {proc.returncode}).", stream=sys.stderr)
                    return proc.returncode or 1
                if not worker_said:
                    worker_said = True
                    say(
                        ME,
                        f"The worker stopped (exit {proc.returncode}): e-mails, webhook "
                        "retries, the sweep and expiry wait until `make run` starts again; "
                        "/readyz says so.",
                        stream=sys.stderr,
                    )
            time.sleep(0.5)

    def stop(self) -> None:
        # Stopping is bounded (each process gets 10 s, then it is killed): a second Ctrl-C or
        # SIGTERM (make passes its own on) must not leave them running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        processes.stop(*self.started.values())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # This launcher decides where the store and the emulator run: the children use these URLs,
    # not what a previous `make run` recorded.
    os.environ["STOREFRONT_URL"] = os.environ.get("STOREFRONT_URL") or args.store_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")
    os.environ["STOREFRONT_IGNORE_RUN_FILE"] = "1"

    from django.conf import settings

    use_emulator = settings.BANQ_ENVIRONMENT == "emulator"
    if use_emulator:
        os.environ["BANQ_EMULATOR_URL"] = args.emulator_url
    # An emulator someone already started on that port (`make emulator`) is used, not refused.
    emulator_running = (
        use_emulator
        and not processes.port_is_free(args.host, args.emulator_port)
        and emulator_answers(args.emulator_url)
    )
    start_emulator = use_emulator and not emulator_running
    if not ports_are_free(
        args.host, [args.port] + ([args.emulator_port] if start_emulator else [])
    ):
        return 2

    signal.signal(signal.SIGTERM, _terminate)
    run = Run(args, use_emulator=use_emulator, start_emulator=start_emulator)
    try:
        if not run.start_all(store_name=settings.STORE_NAME):
            return 1
        webhook = register_webhook(args.store_url, run.env) if use_emulator else None
        if webhook is not None:
            ok, what = webhook
            say(ME, f"webhook: {what}" if ok else f"webhook registration failed: {what}")
        record_run(
            store_url=args.store_url, emulator_url=args.emulator_url if use_emulator else None
        )
        banq = f"{settings.BANQ_ENVIRONMENT} ({settings.BANQ_API_URL})"
        with _print_lock:
            print(run.banner(webhook=webhook, banq=banq), flush=True)
        return run.watch()
    except KeyboardInterrupt:
        say(ME, "Stopping.")
        return 0
    finally:
        run.stop()
        forget_run()


if __name__ == "__main__":
    sys.exit(main())
