"""The benchmark compares like with like: its probe server runs on the store's own ASGI handler
and middleware, so that a path's store/probe ratio measures the path's own work, and only the
framework-floor row runs on Django's stock handler (docs/benchmarks.md)."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings

from bench import procs
from storefront import processes
from storefront.handler import StoreASGIHandler


def _application(path: str):
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


def _http_handler(application):
    """The application that serves HTTP under the ASGI middleware around it."""
    app = application
    while not hasattr(app, "application_mapping"):  # StoreEdge and the like wrap ``app``
        app = app.app
    return app.application_mapping["http"]


def test_the_probe_runs_on_the_stores_asgi_handler_class():
    probe = _http_handler(_application(procs.PROBE_APP))
    store = _http_handler(_application(processes.STORE_APP))

    assert type(store) is StoreASGIHandler
    assert type(probe) is type(store)


def test_the_probe_runs_the_stores_middleware():
    probe_settings = import_module("bench.probe.settings")

    assert probe_settings.MIDDLEWARE == settings.MIDDLEWARE
    assert probe_settings.ROOT_URLCONF == "bench.probe.urls"


def test_only_the_floor_server_runs_djangos_stock_handler():
    stock = _application(procs.STOCK_APP)

    assert type(stock).__name__ == "ASGIHandler"
    assert not isinstance(stock, StoreASGIHandler)
