"""storefront.channel_layers: the Redis layer's one-trip group join behaves as channels_redis's."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis

from storefront.channel_layers import RedisChannelLayer

# A database and prefix of their own: the test neither sees nor flushes anyone else's keys.
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def prefix():
    prefix = f"test-{uuid.uuid4().hex}"
    yield prefix
    server = redis.Redis.from_url(REDIS_URL)
    for key in server.scan_iter(f"{prefix}*"):
        server.delete(key)


def test_joining_stores_the_member_and_bounds_the_groups_lifetime(prefix):
    async def scenario() -> tuple[float | None, int]:
        layer = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix, group_expiry=60)
        channel = await layer.new_channel()
        await layer.group_add("order-2", channel)
        server = redis.Redis.from_url(REDIS_URL)
        key = layer._group_key("order-2")
        found = server.zscore(key, channel), server.ttl(key)
        await layer.close_pools()
        return found

    joined_at, ttl = asyncio.run(scenario())
    assert joined_at is not None
    assert 0 < ttl <= 60


def test_a_member_gets_the_groups_messages_until_it_leaves(prefix):
    async def scenario() -> tuple[dict, dict, bool]:
        layer = RedisChannelLayer(hosts=[REDIS_URL], prefix=prefix)
        member = await layer.new_channel()
        outsider = await layer.new_channel()
        await layer.group_add("order-1", member)
        await layer.group_send("order-1", {"type": "order.status", "status": "paid"})
        received = await asyncio.wait_for(layer.receive(member), timeout=5)
        await layer.group_discard("order-1", member)
        await layer.group_send("order-1", {"type": "order.status", "status": "late"})
        await layer.send(outsider, {"type": "ping"})
        # The outsider's own message arrives; by then the member that left has nothing waiting.
        other = await asyncio.wait_for(layer.receive(outsider), timeout=5)
        left_empty = layer.receive_buffer[member].empty()
        await layer.close_pools()
        return received, other, left_empty

    received, other, left_empty = asyncio.run(scenario())
    assert received == {"type": "order.status", "status": "paid"}
    assert other == {"type": "ping"}
    assert left_empty
