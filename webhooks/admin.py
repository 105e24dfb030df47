"""Webhook events in the merchant admin (read-only, with a "Reprocess" action), the refused-call
counters, and the order's webhook events inside the order page.

The raw body is untrusted input: it is shown pretty-printed when it is JSON and always escaped
(``format_html``). Reprocessing goes through ``webhooks.services.webhook_event_process``, the same
path as ``manage.py process_webhooks`` and the worker, under the same per-event database claim.
"""

from __future__ import annotations

import contextlib
import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from banq.admin import BanqOrderAdmin, pretty_json
from banq.payloads import storable_text
from orders.models import Order
from storefront.admin_mixins import ReadOnlyAdminMixin
from webhooks.models import WebhookEvent, WebhookRefusal
from webhooks.services import webhook_event_process_claimed

BODY_MAX_CHARS = 50_000
PRETTY_MAX_DEPTH = 64  # deeper JSON is shown as received, not re-indented
STATE_COLOURS: dict[str, str] = {
    WebhookEvent.State.RECEIVED: "#6c757d",
    WebhookEvent.State.PROCESSED: "#198754",
    WebhookEvent.State.DUPLICATE: "#6c757d",
    WebhookEvent.State.IGNORED: "#8a8f94",
    WebhookEvent.State.REJECTED: "#dc3545",
    WebhookEvent.State.UNMATCHED: "#fd7e14",
    WebhookEvent.State.PENDING: "#0d6efd",
    WebhookEvent.State.INVALID: "#dc3545",
    WebhookEvent.State.FAILED: "#dc3545",
    WebhookEvent.State.DEAD: "#842029",
}
# States whose error text explains the state (shown next to it in the list).
EXPLAINED_STATES = {
    WebhookEvent.State.REJECTED,
    WebhookEvent.State.UNMATCHED,
    WebhookEvent.State.PENDING,
    WebhookEvent.State.INVALID,
    WebhookEvent.State.FAILED,
    WebhookEvent.State.DEAD,
}
ERROR_IN_LIST = 120


def event_state_badge(event: WebhookEvent) -> str:
    badge = format_html(
        '<span class="webhook-state webhook-state-{}" style="background:{};color:#fff;'
        'padding:2px 8px;border-radius:10px">{}</span>',
        event.state,
        STATE_COLOURS.get(event.state, "#6c757d"),
        event.get_state_display(),
    )
    if event.state in EXPLAINED_STATES and event.error:
        error = event.error if len(event.error) <= ERROR_IN_LIST else event.error[:ERROR_IN_LIST]
        return format_html('{} <span class="webhook-error">{}</span>', badge, error)
    return badge


def order_link(order: Order | None) -> str:
    if order is None:
        return "-"
    url = reverse("admin:orders_order_change", args=[order.pk])
    return format_html('<a href="{}">{}</a>', url, order.number)


def json_depth(text: str, *, stop_above: int) -> int:
    """How deeply ``text`` nests JSON arrays and objects (brackets inside strings don't count),
    without parsing it; counting stops once past ``stop_above``."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > stop_above:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def body_pretty(raw: bytes | memoryview | None) -> str:
    """The raw body as text: indented when it is JSON of a sane depth, else as received; escaped
    in any case. Never raises, whatever was stored (deep, malformed, NUL, lone surrogates)."""
    data = bytes(raw or b"")
    if not data:
        return "-"
    text = data.decode("utf-8", errors="replace")
    note = ""
    if json_depth(text, stop_above=PRETTY_MAX_DEPTH) > PRETTY_MAX_DEPTH:
        note = f"(nested more than {PRETTY_MAX_DEPTH} levels deep: shown as received)\n"
    else:
        with contextlib.suppress(ValueError, RecursionError):
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    if len(text) > BODY_MAX_CHARS:
        text = text[:BODY_MAX_CHARS] + "\n… (cut)"
    # "\u0000" or a lone "\ud800" in the JSON decode to characters a page can't carry.
    return format_html(
        '<pre class="webhook-body" style="white-space:pre-wrap">{}{}</pre>',
        note,
        storable_text(text),
    )


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "received_at",
        "action",
        "resource_type",
        "resource_id",
        "state_badge",
        "order_link",
    )
    list_display_links = ("received_at",)
    list_filter = ("state", "resource_type", "action")
    list_select_related = ("order",)
    search_fields = ("resource_id", "order__number", "event_id")
    date_hierarchy = "received_at"
    show_full_result_count = False
    actions = ["reprocess"]
    _event_fields = (
        "received_at",
        "state_badge",
        "error",
        "action",
        "resource_type",
        "resource_id",
        "event_id",
        "order_link",
        "payment_link",
    )
    _processing_fields = ("attempts", "last_attempt_at", "processed_at", "dedupe_key")
    _request_fields = (
        "remote_addr",
        "content_type",
        "body_size",
        "body_stored",
        "headers_pretty",
        "body",
    )
    fieldsets = (
        (None, {"fields": _event_fields}),
        ("Processing", {"fields": _processing_fields}),
        ("Request", {"fields": _request_fields}),
    )
    readonly_fields = _event_fields + _processing_fields + _request_fields  # all read-only

    def get_fieldsets(self, request: HttpRequest, obj: WebhookEvent | None = None):
        """The error row only where it explains the state: a processed event has none."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.state in EXPLAINED_STATES and obj.error:
            return fieldsets
        return tuple(
            (name, {**group, "fields": tuple(f for f in group["fields"] if f != "error")})
            for name, group in fieldsets
        )

    @admin.display(description="state", ordering="state")
    def state_badge(self, event: WebhookEvent) -> str:
        return event_state_badge(event)

    @admin.display(description="body")
    def body_stored(self, event: WebhookEvent) -> str:
        if event.body_truncated:
            return "Body truncated: it was over the size limit, only its start is stored"
        return "Body stored whole"

    @admin.display(description="order", ordering="order__number")
    def order_link(self, event: WebhookEvent) -> str:
        return order_link(event.order)

    @admin.display(description="payment attempt")
    def payment_link(self, event: WebhookEvent) -> str:
        if event.payment_id is None:
            return "-"
        url = reverse("admin:banq_banqpayment_change", args=[event.payment_id])
        return format_html('<a href="{}">{}</a>', url, event.payment)

    @admin.display(description="headers")
    def headers_pretty(self, event: WebhookEvent) -> str:
        return pretty_json(event.headers)

    @admin.display(description="raw body")
    def body(self, event: WebhookEvent) -> str:
        return body_pretty(event.raw_body)

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.change_webhookevent")

    @admin.action(description="Reprocess (re-fetch from banq and apply)", permissions=["reprocess"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        done: list[str] = []
        settled: list[str] = []
        busy: list[str] = []
        for event in queryset.order_by("received_at", "pk"):
            if event.state in WebhookEvent.FINAL_STATES:
                settled.append(f"#{event.pk} ({event.state})")
                continue
            before = event.state
            processed = webhook_event_process_claimed(pk=event.pk)
            if processed is None:
                busy.append(f"#{event.pk}")
                continue
            event = processed
            done.append(f"#{event.pk}: {before} -> {event.state}")
            if event.state in (
                WebhookEvent.State.PENDING,
                WebhookEvent.State.FAILED,
                WebhookEvent.State.DEAD,
            ):
                self.message_user(
                    request,
                    f"Event #{event.pk} is still {event.state}: {event.error}",
                    messages.ERROR,
                )
        if done:
            self.message_user(request, "Reprocessed " + "; ".join(done) + ".", messages.SUCCESS)
        if settled:
            self.message_user(
                request,
                "Already settled, left as they are: " + ", ".join(settled) + ".",
                messages.INFO,
            )
        if busy:
            self.message_user(
                request,
                "Being processed by another run, skipped: " + ", ".join(busy) + ".",
                messages.WARNING,
            )


@admin.register(WebhookRefusal)
class WebhookRefusalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Calls with a wrong webhook token per day: many usually mean banq calls a stale URL."""

    list_display = ("day", "count", "last_seen_at", "last_remote_addr")
    readonly_fields = ("day", "count", "first_seen_at", "last_seen_at", "last_remote_addr")

    deletable = True  # a diagnostic count, not a record


class WebhookEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookEvent
    fk_name = "order"
    extra = 0
    show_change_link = True
    fields = ("received_at", "action", "resource_type", "resource_id", "state_badge")
    readonly_fields = fields
    ordering = ("-received_at", "-pk")
    verbose_name = "webhook event"
    verbose_name_plural = "webhook events"

    @admin.display(description="state")
    def state_badge(self, event: WebhookEvent) -> str:
        return event_state_badge(event)


class StoreOrderAdmin(BanqOrderAdmin):
    """The order admin with banq's payment attempts and the order's webhook events."""

    inlines = [*BanqOrderAdmin.inlines, WebhookEventInline]


admin.site.unregister(Order)
admin.site.register(Order, StoreOrderAdmin)
