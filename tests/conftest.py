"""Shared fixtures. Bigger fixture families live in tests/support/ and are registered here."""

import pytest
from django.core.cache import cache

pytest_plugins = [
    "tests.support.banq_api",
    "tests.support.emulator",
    "tests.support.live_store",
    "tests.support.live_worker",
]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Tokens and rate-limit counters live in the cache: every test starts without them."""
    cache.clear()
    yield
    cache.clear()


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
