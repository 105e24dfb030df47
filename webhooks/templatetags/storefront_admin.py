"""``{% storefront_admin_summary as summary %}``: the numbers on the admin index.

Paid today and this week (orders, and the later installments of recurring plans; net of the
refunds recorded in the period), orders needing
attention, webhook events waiting (pending, unmatched, failed), webhook events given up on (dead:
they failed on every attempt) and webhook calls refused for a wrong token in the last 7 days, each
with the link to the filtered changelist. A handful of aggregate queries whatever the size of the
shop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django import template
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from orders.admin_selectors import (
    ANY_ATTENTION,
    PAID_TODAY,
    PAID_WEEK,
    OrderSummary,
    order_admin_summary,
)
from orders.money import format_money
from webhooks.models import WebhookEvent
from webhooks.selectors import webhook_refusal_summary

register = template.Library()

REFUSALS_DAYS = 7
WAITING_STATES = (
    WebhookEvent.State.PENDING,
    WebhookEvent.State.UNMATCHED,
    WebhookEvent.State.FAILED,
)


@dataclass(frozen=True)
class SummaryLine:
    label: str
    value: str
    url: str
    alert: bool = False


def _changelist(name: str, **params: str) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _received(received) -> str:
    """``2 · $10.30`` (each currency's sum, or $0.00); net of the period's refunds:
    ``2 · $8.30 net ($10.30 received, $2.00 refunded)``."""
    money = ", ".join(_money(t) for t in received.totals)
    return f"{received.count} · {money or format_money(Decimal(0))}"


def _money(total) -> str:
    if not total.refunded:
        return format_money(total.total, total.currency)
    net, got, back = (
        format_money(v, total.currency) for v in (total.net, total.total, total.refunded)
    )
    return f"{net} net ({got} received, {back} refunded)"


def admin_summary(*, now: datetime | None = None) -> list[SummaryLine]:
    return _order_lines(order_admin_summary(now=now or timezone.now())) + _webhook_lines()


def _order_lines(orders: OrderSummary) -> list[SummaryLine]:
    """Money received today and this week (orders, later installments), and the orders that
    need the merchant's attention."""
    order_list = "orders_order"
    return [
        SummaryLine(
            "Paid today",
            _received(orders.paid_today),
            _changelist(order_list, paid=PAID_TODAY),
        ),
        SummaryLine(
            "Paid this week",
            _received(orders.paid_week),
            _changelist(order_list, paid=PAID_WEEK),
        ),
        SummaryLine(
            "Installments received today",
            _received(orders.installments_today),
            _changelist("orders_subscription", installment=PAID_TODAY),
        ),
        SummaryLine(
            "Installments received this week",
            _received(orders.installments_week),
            _changelist("orders_subscription", installment=PAID_WEEK),
        ),
        SummaryLine(
            "Orders needing attention",
            str(orders.needs_attention),
            _changelist(order_list, needs_attention=ANY_ATTENTION),
            alert=orders.needs_attention > 0,
        ),
    ]


def _webhook_lines() -> list[SummaryLine]:
    """Webhook events waiting or given up on, and calls refused for a wrong token."""
    # Only the states counted: the (state, received_at) index, not every event ever received.
    counted = (*WAITING_STATES, WebhookEvent.State.DEAD)
    events = WebhookEvent.objects.filter(state__in=counted).aggregate(
        **{state: Count("pk", filter=Q(state=state)) for state in counted}
    )
    refusals = webhook_refusal_summary(days=REFUSALS_DAYS)
    lines = [
        SummaryLine(
            f"Webhook events {WebhookEvent.State(state).label.lower()}",
            str(events[state]),
            _changelist("webhooks_webhookevent", state__exact=state),
            alert=events[state] > 0,
        )
        for state in WAITING_STATES
    ]
    dead = events[WebhookEvent.State.DEAD]
    lines.append(
        SummaryLine(
            "Webhook events given up on (dead: need attention)",
            str(dead),
            _changelist("webhooks_webhookevent", state__exact=WebhookEvent.State.DEAD),
            alert=dead > 0,
        )
    )
    lines.append(
        SummaryLine(
            f"Webhook calls refused for a wrong token (last {REFUSALS_DAYS} days)",
            f"{refusals.refused} — banq seems to call a stale URL"
            if refusals.stale_url_suspected
            else str(refusals.refused),
            _changelist("webhooks_webhookrefusal"),
            alert=refusals.stale_url_suspected,
        )
    )
    return lines


@register.simple_tag(takes_context=True)
def storefront_admin_summary(context) -> list[SummaryLine]:
    """The summary lines, or none for a user who may not view orders."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("orders.view_order"):
        return []
    return admin_summary()
