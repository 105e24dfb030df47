"""GET /metrics: only with the token or from an allowed network (404 otherwise, like a page that
does not exist); django-prometheus's metrics and the store's own, which move with the work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from banq.client import endpoint_of
from storefront.models import WorkerHeartbeat
from tests.support.banq_api import add_payment, payment_payload
from tests.webhooks.support import order_with_attempt, post_event

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-the-tests-0123456789"


@pytest.fixture
def metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return settings


def scrape(client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` (labels in any order), 0 when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.rsplit(" ", 1)[0]))
        if found == labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token-0123456789abcdef"},
        {"HTTP_AUTHORIZATION": TOKEN},  # not a bearer token
        {"HTTP_AUTHORIZATION": "Bearer "},
    ],
)
def test_metrics_is_a_404_without_the_token(client, metrics_settings, headers):
    response = client.get("/metrics", **headers)

    assert response.status_code == 404
    assert b"storefront_" not in response.content
    assert response.content == client.get("/no-such-page").content  # the ordinary 404


def test_without_a_configured_token_no_token_opens_it(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []

    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer x").status_code == 404


def test_an_allowed_network_needs_no_token(client, metrics_settings):
    metrics_settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    inside = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    outside = client.get("/metrics", REMOTE_ADDR="192.0.2.7")
    forged = client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="10.1.2.3")

    assert inside.status_code == 200
    assert outside.status_code == 404
    assert forged.status_code == 404  # only the address the edge resolved counts


def test_metrics_answers_a_scraper_by_address(client, metrics_settings):
    metrics_settings.ALLOWED_HOSTS = ["shop.example.com"]
    metrics_settings.SECURE_SSL_REDIRECT = True

    response = client.get(
        "/metrics", HTTP_HOST="127.0.0.1:8001", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )

    assert response.status_code == 200


def test_the_webhook_counter_moves_when_a_webhook_is_processed(client, metrics_settings, banq_api):
    order, _ = order_with_attempt()
    add_payment(
        banq_api,
        payment_payload(status="completed", funds=order.total, external_order_code=order.number),
    )
    before = scrape(client)

    assert post_event(client).json() == {"status": "processed"}

    after = scrape(client)
    labels = {"outcome": "processed", "via": "delivery"}
    assert value(after, "storefront_webhooks_total", **labels) == (
        value(before, "storefront_webhooks_total", **labels) + 1
    )
    settled = {"verdict": "paid", "source": "webhook"}
    assert value(after, "storefront_settlements_total", **settled) == (
        value(before, "storefront_settlements_total", **settled) + 1
    )
    call = {"endpoint": "/payments/{id}", "method": "GET", "status": "200"}
    assert value(after, "storefront_banq_calls_total", **call) == (
        value(before, "storefront_banq_calls_total", **call) + 1
    )
    assert "storefront_banq_call_duration_seconds_bucket" in after


def test_every_webhook_outcome_is_there_from_the_start(client, metrics_settings):
    text = scrape(client)

    for outcome in ("processed", "duplicate", "rejected", "pending", "invalid", "wrong_token"):
        assert f'storefront_webhooks_total{{outcome="{outcome}",via="delivery"}}' in text


def test_a_wrong_token_is_counted(client, metrics_settings):
    labels = {"outcome": "wrong_token", "via": "delivery"}
    before = value(scrape(client), "storefront_webhooks_total", **labels)

    assert post_event(client, token="not-the-token-at-all-0123456789").status_code == 404

    assert value(scrape(client), "storefront_webhooks_total", **labels) == before + 1


def test_requests_the_database_and_the_cache_are_measured(client, metrics_settings):
    client.get("/")
    text = scrape(client)

    assert value(text, "django_http_requests_total_by_method_total", method="GET") >= 1
    assert "django_db_execute_total" in text
    assert "django_cache_get_total" in text


def test_the_queue_and_the_workers_are_read_when_scraped(client, metrics_settings):
    from storefront.tasks import tasks_housekeeping

    tasks_housekeeping.enqueue()
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="w1", started_at=now, seen_at=now)

    text = scrape(client)

    assert value(text, "storefront_tasks", state="ready") == 1
    assert value(text, "storefront_tasks", state="failed") == 0
    assert value(text, "storefront_workers") == 1
    assert 0 <= value(text, "storefront_task_oldest_due_age_seconds") < 60


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/payments/0b7f7a52-6c1e-4d0f-9a51-2f8e4c1d9b10", "/payments/{id}"),
        ("/payments/get-paid-link", "/payments/get-paid-link"),
        ("/transactions/9c2e4f10", "/transactions/{id}"),
        ("/account-spaces/3a7d/webhook-config", "/account-spaces/{id}/webhook-config"),
        ("/users/me", "/users/me"),
        ("/oauth/token", "/oauth/token"),
    ],
)
def test_banq_endpoints_are_counted_without_their_ids(path, endpoint):
    assert endpoint_of(path) == endpoint


MULTIPROCESS_SCRIPT = """
import os, sys
import django
django.setup()
from storefront import metrics
metrics.EMAILS.labels(kind="order_paid", outcome="sent").inc(int(sys.argv[1]))
if len(sys.argv) > 2:
    from django.test import Client
    from django.test.utils import setup_test_environment
    setup_test_environment()
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer " + sys.argv[2])
    print(response.content.decode())
"""


def test_several_processes_add_up_in_multi_process_mode(tmp_path):
    """A worker's counts show in the store's /metrics when they share PROMETHEUS_MULTIPROC_DIR."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "storefront.settings",
        "DJANGO_READ_DOT_ENV": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "METRICS_TOKEN": TOKEN,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }

    def run(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_SCRIPT, *args],
            cwd=Path(settings.BASE_DIR),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    run("2")  # a worker that sent two e-mails, then stopped
    text = run("3", TOKEN)  # a store process that sent three, scraped

    assert value(text, "storefront_emails_total", kind="order_paid", outcome="sent") == 5
    # Its database has no tables here: the queue can't be read, the counters still go out.
    assert "storefront_tasks{" not in text
