"""With LOG_FORMAT=json the store writes JSON lines on stdout, with request ids and order numbers,
and still never a secret."""

from __future__ import annotations

import json
import logging

import pytest
import requests

from storefront.logfilters import RedactSecretsFilter
from storefront.logs import (
    ORDER_NUMBER,
    REQUEST_ID,
    ContextFilter,
    JsonFormatter,
    bind_order,
    log_scope,
)
from tests.factories import product_create
from tests.production.support import spawn_store, wait_until_ready
from tests.support.live_store import emulator_store_env
from tests.support.shopper import Shopper

TOKEN = "json-logs-webhook-token-0123456789abcdef"


def _format(record: logging.LogRecord) -> dict:
    for log_filter in (RedactSecretsFilter(), ContextFilter()):
        log_filter.filter(record)
    return json.loads(JsonFormatter().format(record))


def _record(message: str, *args, **extra) -> logging.LogRecord:
    record = logging.LogRecord("banq.views", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_the_request_id_the_order_and_no_secret(settings):
    settings.BANQ_WEBHOOK_TOKEN = "whk-token-abcdefghijklmnopqrstuvwx"
    request, order = REQUEST_ID.set("r" * 32), ORDER_NUMBER.set("")
    try:
        with log_scope():
            bind_order("SF-261125-AAAAA")
            line = _format(
                _record("Call to %s", "/webhooks/banq/whk-token-abcdefghijklmnopqrstuvwx/x/")
            )
        after = _format(_record("later"))
    finally:
        REQUEST_ID.reset(request)
        ORDER_NUMBER.reset(order)

    assert line["message"] == "Call to /webhooks/banq/<redacted>/x/"
    assert (line["request_id"], line["order"]) == ("r" * 32, "SF-261125-AAAAA")
    assert (line["level"], line["logger"]) == ("WARNING", "banq.views")
    assert line["time"].endswith("+00:00")
    assert "order" not in after  # the scope ended


def test_each_request_starts_without_an_order(client):
    bind_order("SF-FROM-AN-EARLIER-REQUEST")
    seen = []

    def look(**kwargs):
        seen.append(ORDER_NUMBER.get())

    from django.core.signals import request_started

    request_started.connect(look)
    try:
        client.get("/no/such/page/")
    finally:
        request_started.disconnect(look)
    assert seen == [""]


def test_an_order_given_with_extra_wins_and_exceptions_are_one_field():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = _record("failed", order="SF-1")
        record.exc_info = sys.exc_info()
    line = _format(record)
    assert line["order"] == "SF-1"
    assert "ValueError: boom" in line["exception"]
    assert "\n" not in JsonFormatter().format(record)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_store_logs_json_lines_on_stdout_with_request_ids_and_order_numbers(
    banq_emulator, emulator_settings
):
    env = {
        **emulator_store_env(banq_emulator, emulator_settings, TOKEN),
        "LOG_FORMAT": "json",
        "DJANGO_TRUSTED_PROXIES": "1",
    }
    store = spawn_store(env, name="json-logs", split=True)
    try:
        wait_until_ready(store)
        shopper = Shopper(store.url)
        public_id, _ = shopper.place_order(product_create(price="4.20"))
        answer = shopper.payment_link(public_id)
        wrong = requests.post(
            f"{store.url}/webhooks/banq/not-the-token/payment-status/",
            data="{}",
            headers={"X-Forwarded-For": "203.0.113.77"},  # as nginx would add it
        )
    finally:
        store.process.terminate()  # stopping logs too: every line up to the last is JSON
        store.process.wait(timeout=15)
    output, errors = store.output(), store.errors()
    store.stop()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]

    assert answer.status_code == 200
    assert wrong.status_code == 404
    assert "storefront" not in errors  # the store's own lines all went to stdout
    request_id = answer.headers["X-Request-ID"]
    about_the_link = [line for line in lines if line.get("request_id") == request_id]
    messages = " | ".join(line["message"] for line in about_the_link)
    assert any("payment link created" in line["message"] for line in about_the_link), messages
    number = next(line["order"] for line in about_the_link if "payment link" in line["message"])
    assert number.startswith("SF-")
    access = [line for line in about_the_link if line["logger"] == "storefront.access"]
    assert len(access) == 1
    assert "POST /generate-payment-link" in access[0]["message"]
    refused = [line for line in lines if line.get("request_id") == wrong.headers["X-Request-ID"]]
    assert [line["client"] for line in refused if line["logger"] == "storefront.access"] == [
        "203.0.113.77:0"  # the client nginx saw, not nginx
    ]
    everything = json.dumps(lines)
    assert TOKEN not in everything
    assert "not-the-token" not in everything  # redacted in the access log and the warning


@pytest.mark.django_db
def test_a_workers_task_logs_under_its_task_id(monkeypatch, run_tasks):
    from webhooks.tasks import webhooks_retry_due

    seen = []

    def events_due(**kwargs):
        seen.append(REQUEST_ID.get())
        return []

    monkeypatch.setattr("webhooks.tasks.events_due", events_due)
    result = webhooks_retry_due.enqueue()

    assert run_tasks() == 1
    assert seen == [f"task-{result.id}"]
    assert REQUEST_ID.get() == ""
