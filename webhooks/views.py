"""``POST /webhooks/banq/<token>/payment-status/``: banq's payment-status events.

Order of work: check the path token (constant time; a wrong one is a 404, counted, body not
kept), read the body as a stream with a size limit, store it as a ``WebhookEvent`` (committed),
then parse and process it. Answers (JSON):

- 200 ``{"status": "processed" | "duplicate" | "ignored" | "rejected"}``: settled, don't resend;
- 400 ``{"error": ...}``: a body we can't read (kept as an ``invalid`` event);
- 413: a body over ``WEBHOOK_MAX_BODY_BYTES``. Behind the store's own server and ASGI edge a
  declared ``Content-Length`` over it is refused before the body is read (``storefront.limits``),
  so this view never sees it; otherwise the event is kept as ``invalid``, holding the first
  ``TRUNCATED_BODY_BYTES`` bytes, flagged ``body_truncated``;
- 503 with ``Retry-After``: ``pending`` (banq unreachable for the re-fetch), ``unmatched`` (no
  order for the payment yet) or ``failed`` (unexpected error); banq retries and so does
  ``manage.py process_webhooks``.

Content type: banq documents none, so any content type is accepted when the body is a JSON object
(the type is recorded on the event). The request path holds the webhook token, so no response of
this view is handed to Django's request logger (which would print the path).
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt

from banq.client import banq_budget
from banq.settings import banq_settings
from orders.outbox import outbox_enqueue
from storefront import metrics
from storefront.http import JsonView, json_error
from webhooks.models import WebhookEvent
from webhooks.services import (
    webhook_event_process,
    webhook_event_record,
    webhook_looks_like_banq,
    webhook_refusal_count,
    webhook_retry_delay,
)
from webhooks.tasks import webhook_event_retry

logger = logging.getLogger(__name__)

ENDPOINT = "/webhooks/banq/<token>/payment-status/"
TRUNCATED_BODY_BYTES = 4096
REFUSED_PEEK_BYTES = 4096
RETRY_AFTER_SECONDS = 60

State = WebhookEvent.State
SETTLED_ANSWERS = {State.PROCESSED, State.DUPLICATE, State.IGNORED, State.REJECTED}
RETRY_ANSWERS: dict[str, tuple[str, str]] = {
    State.PENDING: ("banq_unavailable", "banq could not be reached; please retry."),
    State.UNMATCHED: ("order_not_found", "No order matches this payment yet; please retry."),
    State.FAILED: ("processing_failed", "The event could not be processed; please retry."),
    State.RECEIVED: ("processing_failed", "The event could not be processed; please retry."),
}


def _quiet(response: JsonResponse) -> JsonResponse:
    # Django logs every 4xx/5xx with the request path, and our path carries the token.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def token_is_valid(token: str) -> bool:
    expected = banq_settings().webhook_token
    if not expected:
        return False
    return hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8"))


def _remote_addr(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "")[:64]


@method_decorator(csrf_exempt, name="dispatch")
class BanqWebhookView(JsonView):
    http_method_names = ["post", "options"]

    @staticmethod
    def max_body_bytes() -> int:
        """Read by the ASGI edge (``storefront.limits``): a larger declared body gets 413 before
        it is read. The view's own check below covers servers without that edge."""
        return int(settings.WEBHOOK_MAX_BODY_BYTES)

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = json_error("method_not_allowed", "Use POST.", 405)
        response["Allow"] = "POST"
        return _quiet(response)

    def post(self, request: HttpRequest, token: str) -> JsonResponse:
        if not token_is_valid(token):
            logger.warning("Webhook call to %s refused: wrong token", ENDPOINT)
            peek = request.read(REFUSED_PEEK_BYTES)  # read, never kept: does it look like banq?
            webhook_refusal_count(
                remote_addr=_remote_addr(request), banq_like=webhook_looks_like_banq(peek)
            )
            metrics.WEBHOOKS.labels(outcome="wrong_token", via="delivery").inc()
            return _quiet(json_error("not_found", "There is nothing here.", 404))

        limit = settings.WEBHOOK_MAX_BODY_BYTES
        content_type = request.META.get("CONTENT_TYPE", "")
        common = {
            "content_type": content_type,
            "headers": request.headers,
            "remote_addr": _remote_addr(request),
        }
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        body = b"" if declared > limit else request.read(limit + 1)
        if declared > limit or len(body) > limit:
            prefix = body[:TRUNCATED_BODY_BYTES] or request.read(TRUNCATED_BODY_BYTES)
            error = f"Body too large: over {limit} bytes."
            webhook_event_record(
                body=prefix,
                body_size=max(declared, len(body)),
                truncated=True,
                error=error,
                **common,
            )
            logger.warning("Webhook call to %s: body over %s bytes refused", ENDPOINT, limit)
            metrics.WEBHOOKS.labels(outcome="too_large", via="delivery").inc()
            return _quiet(json_error("body_too_large", error, 413))

        event = webhook_event_record(body=body, attempting=True, **common)
        try:
            # banq retries a delivery itself: no retries here, and a bounded time in all.
            with banq_budget(banq_settings().request_budget):
                event = webhook_event_process(event=event, in_request=True, counted=True)
        except Exception:
            # webhook_event_process catches what it expects; this is the last line of defence.
            logger.exception("Webhook event %s: unexpected error", event.pk)
            WebhookEvent.objects.filter(pk=event.pk).update(
                state=State.FAILED, error="Unexpected error while processing."
            )
            event.state = State.FAILED
        if event.state in WebhookEvent.RETRYABLE_STATES:
            # The worker finishes what the request could not (banq also retries the delivery).
            later = timezone.now() + webhook_retry_delay(event.attempts)
            outbox_enqueue(webhook_event_retry.using(run_after=later), event.pk)
        return _answer(event)


def _answer(event: WebhookEvent) -> JsonResponse:
    metrics.WEBHOOKS.labels(outcome=event.state, via="delivery").inc()
    if event.state in SETTLED_ANSWERS:
        return JsonResponse({"status": event.state})
    if event.state == State.INVALID:
        return _quiet(json_error("invalid_payload", event.error or "Invalid payload.", 400))
    code, message = RETRY_ANSWERS.get(event.state, RETRY_ANSWERS[State.FAILED])
    response = json_error(code, message, 503, Retry_After=str(RETRY_AFTER_SECONDS))
    return _quiet(response)
