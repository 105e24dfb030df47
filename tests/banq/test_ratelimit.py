"""banq.ratelimit on both caches the store runs with: local memory and Redis (one round trip)."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.test import override_settings

from banq import ratelimit
from banq.ratelimit import Bucket, rate_limit_hit

# A database and key prefix of their own: the test neither sees nor flushes anyone else's keys.
REDIS_URL = "redis://127.0.0.1:6379/15"


def drop_keys(prefix: str) -> None:
    server = redis.Redis.from_url(REDIS_URL)
    for key in server.scan_iter(f"{prefix}:*"):
        server.delete(key)


@pytest.fixture(params=["locmem", "redis"])
def cache_kind(request):
    prefix = f"test-{uuid.uuid4().hex}"
    if request.param == "locmem":
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    else:
        backend = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    with override_settings(CACHES={"default": backend}):
        yield request.param
    drop_keys(prefix)


def test_the_call_over_the_limit_waits_until_the_window_ends(cache_kind):
    bucket = Bucket("test", "session-a", 3)
    answers = [rate_limit_hit(bucket, window=60) for _ in range(4)]

    assert answers[:3] == [None, None, None]
    assert 1 <= answers[3] <= 60


def test_each_bucket_counts_on_its_own_and_any_full_one_blocks(cache_kind):
    small, wide = Bucket("s", "shopper", 2), Bucket("ip", "10.0.0.1", 100)
    assert rate_limit_hit(small, wide, window=60) is None
    assert rate_limit_hit(small, wide, window=60) is None
    assert rate_limit_hit(small, wide, window=60) is not None
    # Another shopper behind the same address is not blocked by the first one's bucket.
    assert rate_limit_hit(Bucket("s", "other", 2), wide, window=60) is None
    # The same ident in another scope is another bucket.
    assert rate_limit_hit(Bucket("order", "shopper", 2), window=60) is None


def test_buckets_without_ident_or_limit_are_not_counted(cache_kind):
    for _ in range(5):
        assert rate_limit_hit(Bucket("s", "", 1), Bucket("ip", "x", 0), window=60) is None
    assert rate_limit_hit(Bucket("s", "x", 1), window=0) is None


def test_redis_counts_every_bucket_in_one_round_trip_and_the_keys_expire(monkeypatch):
    prefix = f"test-{uuid.uuid4().hex}"
    backend = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    trips = []
    pipeline_execute, single_command = redis.client.Pipeline.execute, redis.Redis.execute_command

    def execute(self, *args, **kwargs):
        trips.append(len(self.command_stack))
        return pipeline_execute(self, *args, **kwargs)

    def command(self, *args, **kwargs):
        trips.append(1)
        return single_command(self, *args, **kwargs)

    with override_settings(CACHES={"default": {**backend, "KEY_PREFIX": prefix}}):
        monkeypatch.setattr(redis.client.Pipeline, "execute", execute)
        monkeypatch.setattr(redis.Redis, "execute_command", command)
        buckets = (Bucket("s", "a", 5), Bucket("ip", "b", 5), Bucket("o", "c", 5))
        assert rate_limit_hit(*buckets, window=30) is None
        monkeypatch.undo()

        assert trips == [6]  # one pipeline: SET NX EX + INCR for each of three buckets
        server = redis.Redis.from_url(REDIS_URL)
        keys = server.keys(f"{prefix}:*banq:ratelimit:*")
        assert len(keys) == 3
        assert all(0 < server.ttl(key) <= 31 for key in keys)
        assert all(int(server.get(key)) == 1 for key in keys)
    drop_keys(prefix)


def test_only_the_redis_cache_is_counted_in_a_pipeline(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ratelimit._redis_client() is None
