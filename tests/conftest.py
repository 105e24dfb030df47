"""Shared fixtures. Bigger fixture families live in tests/support/ and are registered here."""

import pytest
from django.core.cache import cache

pytest_plugins = [
    "tests.support.banq_api",
    "tests.support.emulator",
    "tests.support.live_store",
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
