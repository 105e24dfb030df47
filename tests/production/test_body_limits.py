"""Early size limits on the real server (`python -m storefront.serve`): a body over its path's
limit is answered 413 when the headers arrive, never held in memory."""

from __future__ import annotations

import http.client
import json
import time

import pytest
from django.conf import settings

from tests.production.support import vm_rss_kib
from webhooks.models import WebhookEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MIB = 1024 * 1024


def webhook_path() -> str:
    return f"/webhooks/banq/{settings.BANQ_WEBHOOK_TOKEN}/payment-status/"


def connect(store) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(store.host, store.port, timeout=30)


def answer(connection: http.client.HTTPConnection) -> tuple[int, dict]:
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def test_a_declared_100_mb_body_with_a_tiny_one_gets_413_at_once(live_store):
    connection = connect(live_store)
    started = time.monotonic()
    connection.putrequest("POST", webhook_path())
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(100 * MIB))
    connection.endheaders(b"{}")

    status, body = answer(connection)

    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert body["error"]["message"] == (
        f"The request body is too large: over {settings.WEBHOOK_MAX_BODY_BYTES} bytes."
    )
    assert time.monotonic() - started < 5  # it used to wait for 100 MB that never came
    assert WebhookEvent.objects.count() == 0


def test_the_shoppers_json_calls_take_4_kib(live_store):
    connection = connect(live_store)
    connection.request(
        "POST",
        "/generate-payment-link",
        body=b"{" + b" " * 5000 + b"}",
        headers={"Content-Type": "application/json"},
    )

    status, body = answer(connection)

    assert (status, body) == (
        413,
        {
            "error": {
                "code": "body_too_large",
                "message": "The request body is too large: over 4096 bytes.",
            }
        },
    )


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(live_store):
    connection = connect(live_store)
    connection.putrequest("POST", webhook_path())
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    chunk = b"x" * 32768
    for _ in range(4):  # 128 KiB, twice the limit
        connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    connection.send(b"0\r\n\r\n")

    status, body = answer(connection)

    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert WebhookEvent.objects.count() == 0


def test_a_300_mb_post_leaves_the_stores_memory_as_it_was(live_store):
    pid = live_store.process.pid
    connection = connect(live_store)
    assert connection.request("GET", "/") is None
    connection.getresponse().read()  # the store has served a page: its memory is settled
    before = vm_rss_kib(pid)

    connection = connect(live_store)
    connection.putrequest("POST", webhook_path())
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(300 * MIB))
    connection.endheaders()
    block = b" " * MIB
    for _ in range(300):
        connection.send(block)  # read and dropped by the store as it arrives
    status, _ = answer(connection)
    after = vm_rss_kib(pid)

    assert status == 413
    # Plain daphne grew by the whole body (99 MB -> 411 MB, and stayed there).
    assert after - before < 20 * 1024, f"{before} KiB -> {after} KiB"
