"""What an operator's tools call: ``/healthz``, ``/readyz`` and ``/metrics``.

- ``GET /healthz``: 200 ``{"status": "alive"}`` when this process answers requests. It touches no
  database, cache or Redis: a liveness probe that restarts the process only when the process is
  the problem.
- ``GET /readyz``: the readiness checks (``storefront.health``): 200 when all pass, 503 when one
  fails, in JSON naming each check and the failing ones. The answer is computed at most once per
  ``READYZ_CACHE_SECONDS`` in each process (a flood of probes costs one round of checks a second),
  and one address gets ``READYZ_RATE_LIMIT`` calls a minute, then 429.
- ``GET /metrics``: Prometheus's text format: django-prometheus's request, database and cache
  metrics, the store's own (``storefront.metrics``), and, read when scraped, the task queue and
  the workers' heartbeats. Only for ``Authorization: Bearer <METRICS_TOKEN>`` or a client address
  in ``METRICS_ALLOWED_NETWORKS``; anyone else gets the store's ordinary 404, as for a page that
  does not exist. With ``PROMETHEUS_MULTIPROC_DIR``, the processes of this host add up.

``OpsEndpointsMiddleware`` answers these paths before Django's host check and HTTPS redirect: a
probe or a scraper reaches a store process by its own address (``127.0.0.1:8001``), not by the
shop's host name. The client address is the one the edge resolved behind trusted proxies
(``storefront.edge``).
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from banq.ratelimit import Bucket, rate_limit_hit
from storefront.health import Readiness, readiness_run, task_queue_oldest_due_age
from storefront.http import json_error
from storefront.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

HEALTHZ = "/healthz"
READYZ = "/readyz"
METRICS = "/metrics"
NO_STORE = "no-store"


def client_address(request: HttpRequest) -> str:
    """The client's address as the edge resolved it (behind trusted proxies)."""
    return str(request.META.get("REMOTE_ADDR") or "")


# --- /healthz, /readyz --------------------------------------------------------------------------


def healthz(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"status": "alive"})
    response["Cache-Control"] = NO_STORE
    return response


class _Memo:
    """The last readiness answer of this process, and until when it stands."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.value: Readiness | None = None
        self.until = 0.0

    def get(self) -> Readiness:
        if self.value is not None and time.monotonic() < self.until:
            return self.value
        with self.lock:  # one thread computes; the others wait for its answer
            if self.value is None or time.monotonic() >= self.until:
                before = self.value.failing if self.value is not None else []
                self.value = readiness_run()
                self.until = time.monotonic() + float(settings.READYZ_CACHE_SECONDS)
                _log_change(before, self.value)
            return self.value

    def forget(self) -> None:
        self.value, self.until = None, 0.0


readiness_memo = _Memo()


def _log_change(before: list[str], now: Readiness) -> None:
    """One log line when the checks that fail change (not one per probe)."""
    if now.failing == before:
        return
    if now.failing:
        checks = now.as_json()["checks"]
        details = "; ".join(f"{name}: {checks[name]['detail']}" for name in now.failing)
        logger.warning("Readiness: failing (%s)", details)
    else:
        logger.info("Readiness: all checks pass again")


def _quiet(response: HttpResponse) -> HttpResponse:
    # A failing probe is answered, and said once above: not one log line per probe.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def readyz(request: HttpRequest) -> HttpResponse:
    retry_after = rate_limit_hit(
        Bucket("readyz", client_address(request), int(settings.READYZ_RATE_LIMIT)), window=60
    )
    if retry_after is not None:
        return _quiet(
            json_error(
                "rate_limited", "Too many readiness checks.", 429, Retry_After=str(retry_after)
            )
        )
    readiness = readiness_memo.get()
    response = JsonResponse(readiness.as_json(), status=200 if readiness.ok else 503)
    response["Cache-Control"] = NO_STORE
    return _quiet(response)


# --- /metrics -----------------------------------------------------------------------------------


@functools.cache
def _networks(
    networks: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip())


def metrics_allowed(request: HttpRequest) -> bool:
    """The bearer token matches ``METRICS_TOKEN``, or the client is in an allowed network."""
    token = str(settings.METRICS_TOKEN or "")
    given = request.headers.get("Authorization", "")
    offered = given.removeprefix("Bearer ").strip() if given.startswith("Bearer ") else ""
    if token and offered and hmac.compare_digest(offered.encode(), token.encode()):
        return True
    networks = _networks(tuple(settings.METRICS_ALLOWED_NETWORKS or ()))
    if not networks:
        return False
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(address in network for network in networks)


class QueueCollector:
    """The task queue and the workers, read from the database when ``/metrics`` is scraped."""

    def describe(self):
        return [
            GaugeMetricFamily("storefront_tasks", "Tasks in the queue, by state", labels=["state"]),
            GaugeMetricFamily("storefront_task_oldest_due_age_seconds", "Oldest due task's wait"),
            GaugeMetricFamily("storefront_workers", "Task workers beating within their lease"),
            GaugeMetricFamily("storefront_worker_heartbeat_age_seconds", "Newest beat's age"),
        ]

    def collect(self):
        try:
            return self._read()
        except DatabaseError as exc:  # the counters still go out; the queue is missing
            logger.warning("Metrics: the task queue could not be read (%s)", type(exc).__name__)
            return []

    def _read(self):
        tasks, oldest, workers, heartbeat = self.describe()
        counts = dict(
            DBTaskResult.objects.order_by()
            .values_list("status")
            .annotate(n=Count("pk"))
            .values_list("status", "n")
        )
        for state in ("READY", "RUNNING", "FAILED", "SUCCESSFUL"):
            tasks.add_metric([state.lower()], counts.get(state, 0))
        now = timezone.now()
        oldest.add_metric([], task_queue_oldest_due_age(now=now))
        lease = now - timedelta(seconds=float(settings.WORKER_LEASE_SECONDS))
        beats = WorkerHeartbeat.objects.filter(seen_at__gte=lease)
        workers.add_metric([], beats.count())
        newest = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True)
        seen = newest.first()
        heartbeat.add_metric([], (now - seen).total_seconds() if seen else float("nan"))
        return [tasks, oldest, workers, heartbeat]


_queue_collector = QueueCollector()
_registered = threading.Lock()
_in_default_registry = False


def metrics_registry() -> CollectorRegistry:
    """What ``/metrics`` exports: this process's registry, or, in multi-process mode, the values
    of every process of this host (their files in ``PROMETHEUS_MULTIPROC_DIR``); plus the queue."""
    global _in_default_registry
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_queue_collector)
        return registry
    with _registered:
        if not _in_default_registry:
            REGISTRY.register(_queue_collector)
            _in_default_registry = True
    return REGISTRY


def metrics(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = NO_STORE
    return response


# --- the middleware -----------------------------------------------------------------------------


class OpsEndpointsMiddleware:
    """Answers ``/healthz``, ``/readyz`` and (when allowed) ``/metrics`` before the rest of the
    chain (see the module doc); a ``/metrics`` request that is not allowed goes on like any other
    request and finds no page there."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path == HEALTHZ and request.method in ("GET", "HEAD"):
            return healthz(request)
        if path == READYZ and request.method in ("GET", "HEAD"):
            return readyz(request)
        if path == METRICS and request.method in ("GET", "HEAD") and metrics_allowed(request):
            return metrics(request)
        return self.get_response(request)
