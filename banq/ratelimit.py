"""A small fixed-window rate limit on Django's cache (shared by workers when the cache is).

Several buckets (a session, an IP) are counted together. On Redis that is one round trip for all
of them (a pipeline of ``SET NX EX`` + ``INCR`` per bucket) instead of Django's three per bucket
(``add``, then ``incr``'s ``EXISTS`` and ``INCR``); other caches count through the cache API.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache


@dataclass(frozen=True)
class Bucket:
    """``limit`` calls per window for ``ident`` (a session key, an IP, an order) in ``scope``."""

    scope: str
    ident: str
    limit: int


def rate_limit_hit(*buckets: Bucket, window: int) -> int | None:
    """Count one call in each bucket; return the seconds to wait when any is over its ``limit``
    per ``window`` seconds, else None. Buckets without an ident or limit are not counted.
    Idents are hashed for the cache key."""
    live = [b for b in buckets if b.limit > 0 and b.ident]
    if window <= 0 or not live:
        return None
    now = time.time()
    window_index = int(now // window)
    keys = [_key(b, window_index) for b in live]
    counts = _count(keys, timeout=window + 1)
    if any(count > b.limit for count, b in zip(counts, live, strict=True)):
        return max(1, math.ceil((window_index + 1) * window - now))
    return None


def _key(bucket: Bucket, window_index: int) -> str:
    digest = hashlib.sha256(bucket.ident.encode()).hexdigest()[:24]
    return f"banq:ratelimit:{bucket.scope}:{digest}:{window_index}"


def _count(keys: list[str], *, timeout: int) -> list[int]:
    redis = _redis_client()
    if redis is not None:
        pipe = redis.pipeline(transaction=False)
        for key in keys:
            full = cache.make_and_validate_key(key)
            pipe.set(full, 0, ex=timeout, nx=True)
            pipe.incr(full)
        return [int(n) for n in pipe.execute()[1::2]]
    return [_count_one(key, timeout=timeout) for key in keys]


def _count_one(key: str, *, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def _redis_client():
    """redis-py's client behind Django's Redis cache (one server), or None for other caches."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, RedisCache) or len(getattr(backend, "_servers", ())) != 1:
        return None
    return backend._cache.get_client(write=True)
