"""The real ASGI app under daphne answers over real HTTP."""

import pytest
import requests

from tests.factories import product_create

pytestmark = pytest.mark.integration


def test_catalog_is_served_over_real_http(live_store):
    product_create(name="Smoke-tested teapot", price="42.00")

    response = requests.get(f"{live_store.url}/", timeout=10)

    assert response.status_code == 200, live_store.output()
    assert "text/html" in response.headers["Content-Type"]
    assert "Smoke-tested teapot" in response.text
    assert "$42.00" in response.text


def test_static_css_is_served_by_the_app(live_store):
    response = requests.get(f"{live_store.url}/static/orders/shop.css", timeout=10)

    assert response.status_code == 200
    assert ".product-card" in response.text


def test_live_store_passes_extra_env(live_store_factory):
    store = live_store_factory({"STORE_NAME": "Extra env shop"})

    response = requests.get(f"{store.url}/", timeout=10)

    assert response.status_code == 200, store.output()
    assert "Extra env shop" in response.text
