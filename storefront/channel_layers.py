"""Channel layers without their cost per connection.

The in-memory channel layer (one process, no Redis):

Channels' ``InMemoryChannelLayer`` walks every channel and every group membership looking for
expired ones on each ``receive`` call, and each open socket calls ``receive`` whenever it waits
for its next message: with 1,000 order pages open, each new socket or push costs a walk over all of
them. This one does the same cleaning at most once a second.

The Redis channel layer: channels_redis joins a group in two round trips (ZADD, then EXPIRE), and
every order page's socket joins one on connect. This one sends both in one pipeline.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer
from channels_redis.core import RedisChannelLayer as ChannelsRedisChannelLayer

CLEAN_EVERY = 1.0  # seconds


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    _last_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_clean < CLEAN_EVERY:
            return
        self._last_clean = now
        super()._clean_expired()


class RedisChannelLayer(ChannelsRedisChannelLayer):
    async def group_add(self, group: str, channel: str) -> None:
        assert self.require_valid_group_name(group), "Group name not valid"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        group_key = self._group_key(group)
        connection = self.connection(self.consistent_hash(group))
        # The member with its join time (channels_redis expires members by it), and the whole set
        # kept no longer than the newest member needs: what channels_redis does, in one trip.
        async with connection.pipeline(transaction=False) as pipe:
            pipe.zadd(group_key, {channel: time.time()})
            pipe.expire(group_key, self.group_expiry)
            await pipe.execute()
