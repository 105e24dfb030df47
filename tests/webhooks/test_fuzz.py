"""Hypothesis: whatever the body, the endpoint never answers 500 and always stores the event."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from banq.exceptions import BanqUnavailable
from tests.webhooks.support import post_event
from webhooks.models import WebhookEvent

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
field_values = st.none() | st.integers() | st.text(max_size=40) | json_values
webhookish = st.fixed_dictionaries(
    {},
    optional={
        "action": st.sampled_from(["completed", "failed", "Created", "", "\x00"]) | field_values,
        "resourceType": st.sampled_from(["Payment", "Transaction", "NftLink"]) | field_values,
        "resourceId": st.text(max_size=300) | field_values,
        "eventId": field_values,
        "data": json_values,
    },
)
bodies = (
    st.binary(max_size=2048)
    | json_values.map(lambda v: json.dumps(v).encode())
    | webhookish.map(lambda v: json.dumps(v).encode())
    | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
content_types = st.sampled_from(
    ["application/json", "text/plain", "application/x-www-form-urlencoded", "", "multipart/x"]
)

ACCEPTED = {200, 400, 413, 503}


class UnreachableBanq:
    """No network in tests: every re-fetch finds banq down (the event stays pending, 503)."""

    def get_payment(self, payment_id):
        raise BanqUnavailable("banq is down in this test.")

    get_transaction = get_payment


@pytest.fixture
def no_banq(monkeypatch):
    monkeypatch.setattr("webhooks.services.get_banq_client", UnreachableBanq)


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, content_type=content_types)
def test_any_body_is_stored_and_never_answers_500(client, no_banq, body, content_type):
    before = WebhookEvent.objects.count()

    response = post_event(client, body, content_type=content_type or "application/octet-stream")

    assert response.status_code in ACCEPTED
    assert response["Content-Type"].startswith("application/json")
    assert WebhookEvent.objects.count() == before + 1
    event = WebhookEvent.objects.order_by("-pk").first()
    assert bytes(event.raw_body) == body
    assert event.state != WebhookEvent.State.RECEIVED
