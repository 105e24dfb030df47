"""banq in the merchant admin: payment attempts (read-only), on their own and inside an order,
the order action "Re-check with banq", which applies banq's current answer through
``banq.lookups.attempt_lookup`` (the one locked service, exactly-once like the webhooks), and, on
the order list and page, "banq can't be reached right now" while that is the case.

``Order`` is re-registered with ``BanqOrderAdmin`` (``orders.admin.OrderAdmin`` plus the banq
parts) so that the orders app needs no import of banq.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from banq.client import banq_budget, banq_budget_left
from banq.exceptions import BanqConfigError, BanqUnavailable
from banq.lookups import Answer, Lookup, attempt_lookup
from banq.models import BanqPayment
from banq.payloads import storable_text
from banq.selectors import attempt_latest_checkable
from banq.settings import banq_settings
from orders.admin import OrderAdmin
from orders.models import Order, OrderEvent
from orders.money import format_money
from storefront.admin_mixins import ReadOnlyAdminMixin

PAYLOAD_MAX_CHARS = 20_000
ATTEMPT_FIELDS = (
    "link",
    "banq_payment_id",
    "status",
    "banq_status",
    "funds_display",
    "frequency",
    "fail_reason",
    "verification_error",
    "created_by_store",
    "created_at",
    "completed_at",
    "checked_at",
    "check_failed_at",
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

    @admin.display(description="amount", ordering="funds")
    def funds_display(self, attempt: BanqPayment) -> str:
        return "-" if attempt.funds is None else format_money(attempt.funds, attempt.currency)

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
    list_display = (
        "banq_payment_id",
        "order",
        "status",
        "banq_status",
        "funds_display",
        "created_at",
    )
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
        """Ask banq about each order's newest attempt with a banq id and apply the answer
        (``banq.lookups``: a look-up in flight elsewhere is waited for and shared)."""
        orders = list(queryset.order_by("pk"))
        config = banq_settings()
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
            with banq_budget(config.request_budget):
                lookup = attempt_lookup(
                    attempt=attempt,
                    source=OrderEvent.Source.ADMIN,
                    in_request=True,
                    wait=banq_budget_left(),
                )
            if lookup.answer == Answer.BUSY:
                self.message_user(
                    request,
                    f"{order.number}: banq is still answering another look-up about it; nothing "
                    "changed, try again in a moment.",
                    messages.WARNING,
                )
                continue
            exc = lookup.error
            if lookup.answer == Answer.UNREACHABLE and isinstance(
                exc, BanqUnavailable | BanqConfigError | None
            ):
                left = ", ".join(o.number for o in orders[index:])
                why = (
                    "banq is not configured"
                    if isinstance(exc, BanqConfigError)
                    else "banq can't be reached right now"
                )
                self.message_user(
                    request,
                    f"{why} ({exc or 'a look-up just failed'}). Nothing changed for {left}; "
                    "try again later.",
                    messages.ERROR,
                )
                return
            if lookup.answer == Answer.UNREACHABLE:
                self.message_user(
                    request, f"{order.number}: banq refused the look-up: {exc}", messages.ERROR
                )
                continue
            self.message_user(request, _describe(order, lookup), _level(lookup))

    @admin.display(description="status", ordering="status")
    def status_badge(self, order: Order) -> str:
        """The status, and while banq can't be asked about an unpaid order, that too."""
        badge = super().status_badge(order)
        if order.provider_unreachable_since is None or order.paid_at is not None:
            return badge
        return format_html(
            '{} <span class="banq-unreachable" title="since {}">banq can\'t be reached right '
            "now</span>",
            badge,
            order.provider_unreachable_since.isoformat(timespec="seconds"),
        )


def _describe(order: Order, lookup: Lookup) -> str:
    prefix = f"{order.number} (banq payment {lookup.attempt.banq_payment_id})"
    outcome = lookup.outcome
    if outcome is None:  # answered by the look-up in flight that we waited for
        return (
            f"{prefix}: {lookup.attempt.get_status_display().lower()} (asked by another look-up)."
        )
    return f"{prefix}: {outcome.result.meaning.admin}. {outcome.reason}".strip()


def _level(lookup: Lookup) -> int:
    """The message level of the verdict's severity (``banq.outcomes``), INFO for a shared one."""
    if lookup.outcome is None:
        return messages.INFO
    return lookup.outcome.result.meaning.message_level


admin.site.unregister(Order)
admin.site.register(Order, BanqOrderAdmin)
