"""`make run`'s launcher: a busy port is a clear message and exit 2, not a traceback."""

import socket
import subprocess
import sys

from django.conf import settings


def test_busy_store_port_is_reported_clearly():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "storefront.devserver", "--port", str(port)],
            cwd=settings.BASE_DIR,
            env={
                "PATH": "/usr/bin:/bin",
                "DJANGO_READ_DOT_ENV": "false",
                "BANQ_ENVIRONMENT": "sandbox",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"Port {port} on 127.0.0.1: already in use" in result.stderr
    assert "make run PORT=" in result.stderr
    assert "Traceback" not in result.stderr
