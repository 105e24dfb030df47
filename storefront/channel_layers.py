"""The in-memory channel layer (one process, no Redis), without its cost per connection.

Channels' ``InMemoryChannelLayer`` walks every channel and every group membership looking for
expired ones on each ``receive`` call, and each open socket calls ``receive`` whenever it waits
for its next message: with 1,000 order pages open, each new socket or push costs a walk over all of
them. This one does the same cleaning at most once a second.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

CLEAN_EVERY = 1.0  # seconds


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    _last_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_clean < CLEAN_EVERY:
            return
        self._last_clean = now
        super()._clean_expired()
