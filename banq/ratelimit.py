"""A small fixed-window rate limit on Django's cache (shared by workers when the cache is)."""

from __future__ import annotations

import hashlib
import math
import time

from django.core.cache import cache


def rate_limit_hit(*, scope: str, ident: str, limit: int, window: int) -> int | None:
    """Count one call for ``ident``; return the seconds to wait when over ``limit`` per
    ``window`` seconds, else None. ``ident`` (a session key, an IP) is hashed for the cache key."""
    if limit <= 0 or window <= 0 or not ident:
        return None
    now = time.time()
    bucket = int(now // window)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:24]
    key = f"banq:ratelimit:{scope}:{digest}:{bucket}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 1)
        count = 1
    if count > limit:
        return max(1, math.ceil((bucket + 1) * window - now))
    return None
