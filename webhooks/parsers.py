"""Bytes to a typed webhook event: the one place that reads a webhook body.

``parse_webhook_event`` turns a raw body into ``banq.payloads.WebhookNotification`` (the shape
itself is banq's module's business) and raises ``InvalidWebhookPayload`` for anything else. The
checks here are about what we are willing to store and use: the values end up in database
columns and, for ``resourceId``, in a banq API path.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping

from banq.exceptions import BanqPayloadError
from banq.payloads import WebhookNotification, parse_webhook_notification
from webhooks.exceptions import InvalidWebhookPayload

# banq ids are GUIDs; allow a little more, but nothing that could change a URL path.
RESOURCE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~:-]{0,127}")
WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,63}")
EVENT_ID_MAX = 128


def parse_webhook_event(body: bytes) -> WebhookNotification:
    """Parse a webhook body. Raises ``InvalidWebhookPayload`` with a reason fit for the event log.

    Accepted: UTF-8 JSON whose top level is an object with ``action``, ``resourceType`` and
    ``resourceId`` (other keys are kept in the stored raw body). ``action`` and ``resourceType``
    come back lower-cased.
    """
    if not body or not body.strip():
        raise InvalidWebhookPayload("The body is empty.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidWebhookPayload("The body is not UTF-8 text.") from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = json.loads(text)
    except RecursionError as exc:
        raise InvalidWebhookPayload("The body is nested too deeply.") from exc
    except ValueError as exc:
        raise InvalidWebhookPayload("The body is not valid JSON.") from exc
    if not isinstance(data, Mapping):
        raise InvalidWebhookPayload(f"The body is JSON {type(data).__name__}, not an object.")
    try:
        notification = parse_webhook_notification(data)
    except BanqPayloadError as exc:
        raise InvalidWebhookPayload(str(exc)) from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidWebhookPayload("The event fields have unexpected types.") from exc
    _check(notification)
    event_id = notification.event_id
    if event_id is not None:
        # Informational only: keep it storable rather than refuse the event for it.
        cleaned = str(event_id).replace("\x00", "")[:EVENT_ID_MAX]
        if cleaned != event_id:
            notification = dataclasses.replace(notification, event_id=cleaned or None)
    return notification


def _check(notification: WebhookNotification) -> None:
    for name, value, pattern in (
        ("action", notification.action, WORD_RE),
        ("resourceType", notification.resource_type, WORD_RE),
        ("resourceId", notification.resource_id, RESOURCE_ID_RE),
    ):
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise InvalidWebhookPayload(f"The event's {name} is missing or malformed.")
