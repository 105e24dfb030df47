"""The admin never 500s: it shows any stored webhook body, however deep or malformed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from banq.admin import pretty_json
from webhooks.admin import body_pretty, json_depth
from webhooks.models import WebhookEvent
from webhooks.services import webhook_event_record

pytestmark = pytest.mark.django_db

DEEP = b"[" * 20_000 + b"]" * 20_000  # under 64 KiB: it passes the size limit


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (DEEP, "nested more than 64 levels deep"),
        (b'{"a": {"b": ' * 5_000 + b"1" + b"}}" * 5_000, "nested more than 64 levels deep"),
        # (a NUL is shown escaped, as JSON writes it; a lone surrogate can't be shown at all)
        (b'{"comment": "nul \\u0000 and lone \\ud800 here"}', "nul \\u0000 and lone \ufffd here"),
        (b'{"comment": "raw nul \x00 byte"}', "raw nul"),
        (b"\xff\xfe not utf-8 {", "not utf-8"),
        (b'{"unterminated": [1, 2', "unterminated"),
        (b"<script>alert(1)</script>", "&lt;script&gt;"),
    ],
)
def test_the_event_page_shows_any_stored_body(admin_client, body, shown):
    event = webhook_event_record(body=body, error="stored as received")

    page = admin_client.get(reverse("admin:webhooks_webhookevent_change", args=[event.pk]))

    assert page.status_code == 200
    assert shown in page.content.decode()
    assert "<script>alert" not in page.content.decode()


def test_the_event_list_with_such_bodies_loads(admin_client):
    webhook_event_record(body=DEEP)
    webhook_event_record(body=b"\x00\xff")
    WebhookEvent.objects.update(state=WebhookEvent.State.DEAD, error="Gave up after 8 attempts.")

    page = admin_client.get(reverse("admin:webhooks_webhookevent_changelist"))

    assert page.status_code == 200
    assert page.content.decode().count("Dead (gave up)") >= 2


def test_json_depth_ignores_brackets_inside_strings():
    assert json_depth('{"a": "[[[[[[", "b": [1, {"c": 2}]}', stop_above=10) == 3
    assert json_depth("[" * 500, stop_above=64) == 65


def test_deep_values_never_raise_in_the_helpers():
    deep: object = 1
    for _ in range(5_000):
        deep = [deep]
    assert "pre" in pretty_json(deep)
    assert "pre" in body_pretty(DEEP)
    assert body_pretty(b"") == "-"
