"""Django's cache backends with their reads counted for /metrics.

The counters are django-prometheus's own (``django_cache_get_total``, ``..._hits_total``,
``..._misses_total``, ``..._fail_total``, by backend). Its ready-made backends are not used: its
Redis module imports django-redis, which the store does not use (django-prometheus issues 406 and
492), and its local-memory and file backends hand back the default instead of a cached value that
is falsy (``0``, ``""``). Here a hit is any value found, whatever it is.
"""

from __future__ import annotations

from django.core.cache.backends import filebased, locmem, redis
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)

_MISSING = object()


class _CountedGet:
    metrics_label = ""

    def get(self, key, default=None, version=None):
        django_cache_get_total.labels(backend=self.metrics_label).inc()
        try:
            value = super().get(key, _MISSING, version)  # type: ignore[misc]
        except Exception:
            django_cache_get_fail_total.labels(backend=self.metrics_label).inc()
            raise
        if value is _MISSING:
            django_cache_misses_total.labels(backend=self.metrics_label).inc()
            return default
        django_cache_hits_total.labels(backend=self.metrics_label).inc()
        return value


class RedisCache(_CountedGet, redis.RedisCache):
    metrics_label = "redis"


class LocMemCache(_CountedGet, locmem.LocMemCache):
    metrics_label = "locmem"


class FileBasedCache(_CountedGet, filebased.FileBasedCache):
    metrics_label = "filebased"
