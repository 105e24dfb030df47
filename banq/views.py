"""The shopper's two calls to banq's side of the store.

``POST /generate-payment-link``: the intermediary endpoint the checkout widget calls.

Body ``{"orderId": "<public_id>"}``; any other field (``funds``, ``comment``) is ignored: the
amount, the comment and the order code come from our order. Answers
``{"data": {"url": "<link>"}}``, the shape the widget code in banq's guide reads
(``data.data.url``). CSRF-protected by Django's
middleware (the page sends ``X-CSRFToken``); only the session that owns the order (or opened its
signed link) may call it, and a stranger gets the same 404 as an unknown id.

``POST /orders/<public_id>/confirm``: the page's "the widget says I paid". Records the shopper's
claim, asks banq about the order's live payment (``banq.lookups``: at most once per
``BANQ_RECHECK_MIN_INTERVAL`` seconds per payment; a look-up in flight, whoever started it, is
waited for and shared) and applies the answer through the same locked service as a webhook;
answers the same JSON as ``GET /orders/<public_id>/status`` (``banq_reachable`` false while banq
can't be reached). Same access rule and CSRF protection as above.
"""

from __future__ import annotations

import json
import logging
import uuid

from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse

from banq.client import banq_budget, banq_budget_left
from banq.exceptions import BanqError
from banq.lookups import attempt_lookup
from banq.models import BanqPayment
from banq.ratelimit import Bucket, rate_limit_hit
from banq.services import payment_link_generate_by_public_id
from banq.settings import banq_settings
from orders.access import (
    ACCESS_PARAM,
    order_get_accessible,
    parse_public_id,
    session_owns_public_id,
)
from orders.exceptions import OrderNotPayable
from orders.models import Order, OrderEvent
from orders.services import order_payment_claim
from orders.views import order_status_response
from storefront import metrics
from storefront.http import JsonView, json_error
from storefront.logs import bind_order

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096
PAYMENT_FAILED_MESSAGE = "The payment could not be started; nothing was charged. Please try again."
NOT_FOUND_MESSAGE = "We couldn't find that order."


class GeneratePaymentLinkView(JsonView):
    http_method_names = ["post", "options"]

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs):
        return json_error(
            "method_not_allowed", "Use POST for this endpoint.", 405, Allow="POST, OPTIONS"
        )

    # Read by the ASGI edge (storefront.limits): a larger declared body gets 413 unread.
    max_body_bytes = MAX_BODY_BYTES

    def post(self, request: HttpRequest) -> JsonResponse:
        order_id, problem = self._order_id(request)
        public_id = parse_public_id(order_id) if not problem else None
        # Only the session that owns the order may pay it, and that needs no read of the order:
        # the order is read once, under its lock, by the service.
        owned = public_id is not None and session_owns_public_id(
            session=request.session, public_id=public_id
        )
        # One round trip counts the session's and the IP's calls and, only for a caller who may
        # pay the order, the order's: nobody else can use up its calls.
        retry_after = self._rate_limited(request, order_public_id=public_id if owned else None)
        if retry_after is not None:
            return _too_many(retry_after)
        if problem:
            return json_error("bad_request", problem, 400)
        if public_id is None or not owned:
            return json_error("not_found", NOT_FOUND_MESSAGE, 404)

        try:
            _, attempt = payment_link_generate_by_public_id(public_id=public_id)
        except Order.DoesNotExist:
            return json_error("not_found", NOT_FOUND_MESSAGE, 404)
        except OrderNotPayable as exc:
            return json_error("order_not_payable", str(exc), 409)
        except BanqError as exc:
            logger.error("Order %s: payment link failed: %s", public_id, exc)
            return json_error("payment_unavailable", PAYMENT_FAILED_MESSAGE, 502)

        response = JsonResponse({"data": {"url": attempt.url}})
        response["Cache-Control"] = "no-store"
        return response

    @staticmethod
    def _order_id(request: HttpRequest) -> tuple[str | None, str | None]:
        """``(orderId, None)`` or ``(None, message for a 400)``."""
        content_type = request.content_type or ""
        if content_type != "application/json" and not content_type.endswith("+json"):
            return None, 'Send the order as JSON: {"orderId": "..."}.'
        if len(request.body) > MAX_BODY_BYTES:
            return None, "The request is too large."
        try:
            data = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            return None, "The request body is not valid JSON."
        if not isinstance(data, dict):
            return None, "The request body must be a JSON object with an orderId."
        order_id = data.get("orderId")
        if order_id is None or order_id == "":
            return None, "orderId is required."
        if not isinstance(order_id, str) or len(order_id) > 100:
            return None, "orderId must be the order's id as a string."
        return order_id.strip(), None

    @staticmethod
    def _rate_limited(request: HttpRequest, *, order_public_id: uuid.UUID | None) -> int | None:
        """Seconds to wait, or None. Limits the browser session (``BANQ_LINK_RATE_LIMIT`` per
        window), the order (the same limit, counted only for its owner), and, as a wide backstop
        against a script without cookies, the client's IP (``BANQ_LINK_RATE_LIMIT_IP``):
        shoppers behind one address don't share one small bucket. ``REMOTE_ADDR`` is the
        client's own address behind trusted proxies (``storefront.edge``)."""
        config = banq_settings()
        session_key = request.session.session_key if hasattr(request, "session") else None
        return rate_limit_hit(
            Bucket("link-session", session_key or "", config.link_rate_limit),
            Bucket("link-ip", request.META.get("REMOTE_ADDR", ""), config.link_rate_limit_ip),
            Bucket("link-order", str(order_public_id or ""), config.link_rate_limit),
            window=config.link_rate_window,
        )


def _too_many(retry_after: int) -> JsonResponse:
    return json_error(
        "rate_limited",
        "Too many attempts. Please wait a moment and try again.",
        429,
        Retry_After=str(retry_after),
    )


class OrderConfirmView(JsonView):
    """``POST /orders/<public_id>/confirm``: see the module doc."""

    http_method_names = ["post", "options"]
    max_body_bytes = MAX_BODY_BYTES  # the page sends no body

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs):
        return json_error(
            "method_not_allowed", "Use POST for this endpoint.", 405, Allow="POST, OPTIONS"
        )

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        key = request.GET.get(ACCESS_PARAM)
        order = order_get_accessible(session=request.session, public_id=public_id, key=key)
        if order is None:
            return json_error("not_found", NOT_FOUND_MESSAGE, 404)
        bind_order(order.number)
        if order.paid_at is None:
            order = order_payment_claim(order=order, source=OrderEvent.Source.CONFIRM)
            attempt = _attempt_to_confirm(order)
            if attempt is not None:
                config = banq_settings()
                # A look-up in flight (another tab, the sweep, a cancel) is waited for and its
                # answer shared; one that failed moments ago stands. Either way the page keeps
                # saying "confirming" (and, when banq can't be reached, says that too); the
                # sweep and the webhook carry on.
                with banq_budget(config.request_budget):
                    attempt_lookup(
                        attempt=attempt,
                        source=OrderEvent.Source.CONFIRM,
                        in_request=True,
                        wait=banq_budget_left(),
                        min_interval=config.recheck_min_interval,
                    )
                order.refresh_from_db()
        metrics.CONFIRMS.labels(status=order.status).inc()
        return order_status_response(order)


def _attempt_to_confirm(order: Order) -> BanqPayment | None:
    """The payment the shopper most likely just paid: the newest open one banq can be asked about
    (the live link, else a superseded link still open in an old tab)."""
    return (
        BanqPayment.objects.filter(order=order)
        .checkable()
        .order_by(F("check_anchor_at").desc(nulls_last=True), "-created_at", "-pk")
        .first()
    )
