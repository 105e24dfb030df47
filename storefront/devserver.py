"""`make run`: serve the store with daphne and, in emulator mode, the banq emulator beside it.

    python -m storefront.devserver [--host 127.0.0.1] [--port 8000] [--emulator-port 8001]

Checks both ports first (a busy port is a clear message, not a traceback), starts the emulator,
registers the store's webhook URL with it through the real banq API path, starts daphne, prints the
URLs and stops both on Ctrl-C. With BANQ_ENVIRONMENT=sandbox or production only the store starts.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

BASE_DIR = Path(__file__).resolve().parent.parent


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


def register_webhook(store_url: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Point the emulator's webhook config at this store, with the real operator command."""
    return subprocess.run(
        [sys.executable, "manage.py", "banq_register_webhook", "--base-url", store_url],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _terminate(signum, frame):  # SIGTERM (kill, systemd) stops both servers like Ctrl-C does
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--emulator-port", type=int, default=8001)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storefront.settings")
    store_url = f"http://{args.host}:{args.port}"
    emulator_url = f"http://{args.host}:{args.emulator_port}"
    os.environ.setdefault("STOREFRONT_URL", store_url)

    from django.conf import settings

    use_emulator = settings.BANQ_ENVIRONMENT == "emulator"
    if use_emulator:
        # The store talks to the emulator this launcher starts, whatever the default says.
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
    emulator = store = None
    try:
        if start_emulator:
            emulator = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "banq.emulator",
                    "--host",
                    args.host,
                    "--port",
                    str(args.emulator_port),
                    "--merchant-name",
                    settings.STORE_NAME,
                ],
                cwd=BASE_DIR,
                env=env,
            )
            if not wait_for_http(f"{emulator_url}/_emulator/api/state", emulator):
                print("The banq emulator did not start; see its output above.", file=sys.stderr)
                return 1
        store = subprocess.Popen(
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
            cwd=BASE_DIR,
            env=env,
        )
        if not wait_for_http(f"{store_url}/", store):
            print("The store did not start; see its output above.", file=sys.stderr)
            return 1
        webhook_note = ""
        if use_emulator:
            registered = register_webhook(store_url, env)
            if registered.returncode == 0:
                webhook_note = "   (its webhooks reach this store)"
            else:  # the store still works; `manage.py banq_reconcile` confirms payments
                problem = (registered.stderr or registered.stdout).strip().splitlines()
                webhook_note = (
                    f"   (webhook registration failed: {problem[-1] if problem else '?'})"
                )
        print()
        print(f"  Store:          {store_url}/")
        print(f"  Admin:          {store_url}/admin/")
        if use_emulator:
            already = "" if start_emulator else " (already running)"
            print(f"  banq emulator:  {emulator_url}/_emulator/{already}{webhook_note}")
        else:
            print(f"  banq:           {settings.BANQ_ENVIRONMENT} ({settings.BANQ_API_URL})")
        print("  Press Ctrl-C to stop.\n", flush=True)
        while True:
            for proc, name in ((store, "store"), (emulator, "emulator")):
                if proc is not None and proc.poll() is not None:
                    print(f"The {name} stopped (exit {proc.returncode}).", file=sys.stderr)
                    return proc.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping.")
        return 0
    finally:
        stop(store, emulator)


if __name__ == "__main__":
    sys.exit(main())
