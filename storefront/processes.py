"""The store's processes as commands: the store (daphne, through ``storefront.serve``), the task
worker and the banq emulator; how to start them from the checkout, tell that they are up, and
stop them.

`make run` (``storefront.devserver``), the benchmarks (``bench/``) and the tests' live servers
all start them through here, so their command lines are written once. Standard library only: it
runs before Django is set up.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

BASE_DIR = Path(__file__).resolve().parent.parent
STORE_APP = "storefront.asgi:application"
LOOPBACK = "127.0.0.1"


def store_command(
    *, port: int, host: str = LOOPBACK, app: str = STORE_APP, options: Sequence[str] = ()
) -> list[str]:
    """``python -m storefront.serve`` on ``host:port``, as production's units start it;
    ``options`` are daphne's (``-v 0``)."""
    return [sys.executable, "-m", "storefront.serve", *options, "-b", host, "-p", str(port), app]


def worker_command(*options: str) -> list[str]:
    """``manage.py worker``: the task worker."""
    return [sys.executable, "manage.py", "worker", *options]


def emulator_command(*, port: int, host: str = LOOPBACK, options: Sequence[str] = ()) -> list[str]:
    """``python -m banq_emulator`` on ``host:port`` (0: a free port, printed on its first line)."""
    return [sys.executable, "-m", "banq_emulator", "--host", host, "--port", str(port), *options]


def start(
    command: Sequence[str], *, env: Mapping[str, str] | None = None, **popen: Any
) -> subprocess.Popen:
    """Start ``command`` in the checkout's root (beside manage.py); ``popen`` goes to Popen."""
    return subprocess.Popen(list(command), cwd=BASE_DIR, env=env, **popen)


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on now (the system's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def listens(host: str, port: int) -> bool:
    """Whether something accepts connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def answers(url: str) -> bool:
    """Whether ``url`` gets an HTTP answer, whatever its status."""
    try:
        with urlopen(url, timeout=2):
            return True
    except URLError as exc:
        return bool(getattr(exc, "code", None))  # an HTTP error status is still an answer
    except OSError:
        return False


def wait_until(
    ready: Callable[[], bool],
    process: subprocess.Popen,
    *,
    timeout: float,
    interval: float = 0.1,
) -> bool:
    """Ask ``ready()`` until it is true (True), or until ``process`` exits or ``timeout``
    seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if ready():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return False


def stop(*processes: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM each process, then wait for them; one still running after ``timeout`` seconds is
    killed. They stop side by side, each finishing what it was doing."""
    running = [p for p in processes if p is not None and p.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
