"""Shared fixtures. Bigger fixture families live in tests/support/ and are registered here."""

import contextlib

import pytest
from django.core.cache import caches

from banq.client import TOKEN_CACHE_ALIAS, forget_tokens

pytest_plugins = [
    "tests.support.banq_api",
    "tests.support.emulator",
    "tests.support.live_store",
    "tests.support.live_worker",
    "tests.support.smtp_sink",
]


@pytest.fixture(scope="session")
def _token_cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("banq-cache"))


@pytest.fixture(autouse=True)
def _clear_cache(settings, _token_cache_dir):
    """Tokens and rate-limit counters live in the caches: every test starts without them. The
    shared token cache is this run's own directory, not the checkout's .run/ (a `make run` there
    keeps its token)."""
    if TOKEN_CACHE_ALIAS in settings.CACHES:
        banq_cache = {**settings.CACHES[TOKEN_CACHE_ALIAS], "LOCATION": _token_cache_dir}
        settings.CACHES = {**settings.CACHES, TOKEN_CACHE_ALIAS: banq_cache}
    for alias in settings.CACHES:
        caches[alias].clear()
    forget_tokens()
    yield
    for alias in settings.CACHES:
        with contextlib.suppress(OSError):  # a test may have pointed one at a broken location
            caches[alias].clear()
    forget_tokens()


@pytest.fixture(autouse=True)
def _in_memory_channel_layer(settings):
    """Tests use the in-memory layer unless a test opts into the configured one."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def run_tasks():
    """Run the background tasks that are ready (the worker's job), in this process: returns how
    many ran. E-mails and signals leave through these tasks (the outbox)."""
    from storefront.worker import tasks_run_ready

    return tasks_run_ready
