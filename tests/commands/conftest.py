"""Helpers for the banq operator command tests: run a command, capture everything it prints."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.support.banq_api import TEST_ACCESS_TOKEN


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_command(name: str, *args: str, **options) -> Run:
    """``call_command`` with stdout/stderr captured; a ``CommandError`` becomes its exit code
    and its message goes to ``err``, as ``manage.py`` would print it."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=err, no_color=True, **options)
    except CommandError as exc:
        err.write(f"CommandError: {exc}\n")
        return Run(exc.returncode or 1, out.getvalue(), err.getvalue())
    return Run(0, out.getvalue(), err.getvalue())


def secrets_now(*extra: str) -> list[str]:
    """Every secret the commands know of, as configured right now."""
    values = [
        settings.BANQ_PASSWORD,
        settings.BANQ_WEBHOOK_TOKEN,
        settings.BANQ_CLIENT_ID,
        TEST_ACCESS_TOKEN,
        *extra,
    ]
    return [v for v in values if v]


def assert_no_secret(run: Run, *extra: str) -> None:
    for secret in secrets_now(*extra):
        assert secret not in run.text, f"a secret ({secret[:3]}...) was printed"


@pytest.fixture
def webhook_token(settings) -> str:
    settings.BANQ_WEBHOOK_TOKEN = "whk-secret-token-0123456789abcdefghij"
    return settings.BANQ_WEBHOOK_TOKEN
