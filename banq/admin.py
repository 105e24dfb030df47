"""banq in the merchant admin: payment attempts (read-only), on their own and inside an order,
and the order action "Re-check with banq", which applies banq's current answer through
``banq.settlement.payment_recheck`` (the one locked service, exactly-once like the webhooks).

``Order`` is re-registered with ``BanqOrderAdmin`` (``orders.admin.OrderAdmin`` plus the banq
parts) so that the orders app needs no import of banq.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from banq.exceptions import BanqConfigError, BanqError, BanqUnavailable
from banq.models import BanqPayment
from banq.payloads import storable_text
from banq.selectors import attempt_latest_checkable
from banq.settlement import PaymentOutcome, Settlement, payment_recheck
from orders.admin import OrderAdmin
from orders.models import Order, OrderEvent
from storefront.admin_mixins import ReadOnlyAdminMixin

PAYLOAD_MAX_CHARS = 20_000
ATTEMPT_FIELDS = (
    "link",
    "banq_payment_id",
    "status",
    "banq_status",
    "funds",
    "currency",
    "frequency",
    "fail_reason",
    "verification_error",
    "created_by_store",
    "created_at",
    "completed_at",
    "checked_at",
    "next_check_at",
    "payload",
)


def pretty_json(value, *, limit: int = PAYLOAD_MAX_CHARS) -> str:
    """``value`` as indented JSON in an escaped ``<pre>`` (banq's data is not ours to trust)."""
    if value in (None, "", {}, []):
        return "-"
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError, RecursionError):  # mixed key types, too deep: never a 500
        try:
            text = repr(value)[: limit + 1]
        except RecursionError:
            text = "(nested too deeply to show)"
    if len(text) > limit:
        text = text[:limit] + "\n… (cut)"
    return format_html(
        '<pre class="banq-payload" style="white-space:pre-wrap">{}</pre>', storable_text(text)
    )


def attempt_link(attempt: BanqPayment) -> str:
    if not attempt.url:
        return "-"
    return format_html(
        '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', attempt.url, attempt.url
    )


class _AttemptDisplay:
    @admin.display(description="payment link")
    def link(self, attempt: BanqPayment) -> str:
        return attempt_link(attempt)

    @admin.display(description="banq's last payload")
    def payload(self, attempt: BanqPayment) -> str:
        return pretty_json(attempt.last_payload)


class BanqPaymentInline(ReadOnlyAdminMixin, _AttemptDisplay, admin.StackedInline):
    model = BanqPayment
    extra = 0
    fields = ATTEMPT_FIELDS
    readonly_fields = ATTEMPT_FIELDS
    show_change_link = True
    verbose_name = "payment attempt"
    verbose_name_plural = "payment attempts"


@admin.register(BanqPayment)
class BanqPaymentAdmin(ReadOnlyAdminMixin, _AttemptDisplay, admin.ModelAdmin):
    list_display = ("banq_payment_id", "order", "status", "banq_status", "funds", "created_at")
    list_filter = ("status",)
    list_select_related = ("order",)
    search_fields = ("banq_payment_id", "order__number", "url")
    fields = ("order", *ATTEMPT_FIELDS)
    readonly_fields = fields


class BanqOrderAdmin(OrderAdmin):
    inlines = [*OrderAdmin.inlines, BanqPaymentInline]
    actions = [*OrderAdmin.actions, "recheck_with_banq"]
    search_fields = [*OrderAdmin.search_fields, "banq_payments__banq_payment_id"]

    @admin.action(description="Re-check with banq", permissions=["change"])
    def recheck_with_banq(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        """Ask banq about each order's newest attempt with a banq id and apply the answer."""
        orders = list(queryset.order_by("pk"))
        for index, order in enumerate(orders):
            attempt = attempt_latest_checkable(order=order)
            if attempt is None:
                self.message_user(
                    request,
                    f"{order.number}: no payment attempt with a banq payment id, nothing to ask "
                    "banq about.",
                    messages.WARNING,
                )
                continue
            try:
                outcome = payment_recheck(attempt=attempt, source=OrderEvent.Source.ADMIN)
            except (BanqUnavailable, BanqConfigError) as exc:
                left = [o.number for o in orders[index:]]
                why = (
                    "banq could not be reached"
                    if isinstance(exc, BanqUnavailable)
                    else "banq is not configured"
                )
                self.message_user(
                    request,
                    f"{why} ({exc}). Nothing changed for {', '.join(left)}; try again later.",
                    messages.ERROR,
                )
                return
            except BanqError as exc:
                self.message_user(
                    request, f"{order.number}: banq refused the look-up: {exc}", messages.ERROR
                )
                continue
            self.message_user(request, _describe(order, attempt, outcome), _level(outcome))


def _describe(order: Order, attempt: BanqPayment, outcome: PaymentOutcome) -> str:
    prefix = f"{order.number} (banq payment {attempt.banq_payment_id})"
    if outcome.result == Settlement.PAID:
        return f"{prefix}: paid."
    if outcome.result == Settlement.ALREADY_PAID:
        return f"{prefix}: already paid, nothing changed."
    if outcome.result == Settlement.NOT_COMPLETED:
        return f"{prefix}: still open. {outcome.reason}".strip()
    if outcome.result == Settlement.FAILED:
        return f"{prefix}: {outcome.reason} (the order is now failed)."
    return f"{prefix}: {outcome.result.label}. {outcome.reason}".strip()


def _level(outcome: PaymentOutcome) -> int:
    if outcome.result == Settlement.PAID:
        return messages.SUCCESS
    if outcome.result in (Settlement.ALREADY_PAID, Settlement.NOT_COMPLETED):
        return messages.INFO
    return messages.WARNING


admin.site.unregister(Order)
admin.site.register(Order, BanqOrderAdmin)
