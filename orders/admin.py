"""The merchant's admin for products and orders.

Imports point one way (STYLE.md "Layout"): this module knows nothing of banq or webhooks. The banq
app extends ``OrderAdmin`` with the payment attempts and the "re-check with banq" action
(``banq/admin.py``), and the webhooks app with the order's webhook events
(``webhooks/admin.py``); each re-registers ``Order`` with its subclass.

Statuses are never edited in the form: they change through the actions, which go through
``orders.services`` like every other writer.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from orders.admin_selectors import (
    ANY_ATTENTION,
    PAID_TODAY,
    PAID_WEEK,
    PENDING_TOO_LONG,
    order_needs_attention_q,
    order_paid_within_q,
)
from orders.exceptions import InvalidOrderTransition
from orders.models import Order, OrderItem, Product
from orders.money import format_money
from orders.services import order_can_transition, order_set_status

STATUS_COLOURS: dict[str, str] = {
    Order.Status.PENDING: "#6c757d",
    Order.Status.AWAITING_PAYMENT: "#0d6efd",
    Order.Status.PAID: "#198754",
    Order.Status.FAILED: "#dc3545",
    Order.Status.CANCELLED: "#343a40",
    Order.Status.EXPIRED: "#8a8f94",
}
BADGE = (
    '<span class="order-status order-status-{}" style="background:{};color:#fff;'
    'padding:2px 8px;border-radius:10px;white-space:nowrap">{}</span>'
)


def status_badge(order: Order) -> str:
    colour = STATUS_COLOURS.get(order.status, "#6c757d")
    return format_html(BADGE, order.status, colour, order.get_status_display())


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "price", "currency", "stock", "is_active")
    list_editable = ("is_active", "stock", "price")
    list_filter = ("is_active",)
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fields = ("name", "slug", "description", "price", "currency", "stock", "is_active", "image")


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    can_delete = False
    fields = ("product_name", "product", "unit_price", "quantity", "line_total")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class NeedsAttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "needs_attention"

    def lookups(self, request, model_admin):
        reasons = [(value, label) for value, label in Order.Attention.choices if value]
        return [
            (ANY_ATTENTION, "Any reason"),
            *reasons,
            (PENDING_TOO_LONG, "Pending too long"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        try:
            return queryset.filter(order_needs_attention_q(reason=value))
        except ValueError:
            return queryset.none()


class PaidWithinFilter(admin.SimpleListFilter):
    title = "paid"
    parameter_name = "paid"

    def lookups(self, request, model_admin):
        return [(PAID_TODAY, "Today"), (PAID_WEEK, "This week")]

    def queryset(self, request, queryset):
        value = self.value()
        if value in (PAID_TODAY, PAID_WEEK):
            return queryset.filter(order_paid_within_q(period=value))
        return queryset


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "created_date",
        "email",
        "total_display",
        "status_badge",
        "paid_at",
        "payment_reference",
    )
    list_display_links = ("number",)
    list_filter = ("status", "created_at", NeedsAttentionFilter, PaidWithinFilter)
    search_fields = ["number", "email", "payment_reference"]
    list_per_page = 50
    show_full_result_count = False
    date_hierarchy = "created_at"
    inlines = [OrderItemInline]
    actions = ["cancel_orders"]
    fieldsets = (
        (None, {"fields": ("number", "status_badge", "created_at", "public_id")}),
        ("Customer", {"fields": ("name", "email")}),
        ("Money", {"fields": ("subtotal", "total", "currency")}),
        ("Payment", {"fields": ("paid_at", "payment_reference", "status_changed_at")}),
        ("Needs attention", {"fields": ("attention", "attention_note")}),
    )
    readonly_fields = (
        "number",
        "status_badge",
        "created_at",
        "public_id",
        "subtotal",
        "total",
        "currency",
        "paid_at",
        "payment_reference",
        "status_changed_at",
    )

    @admin.display(description="created", ordering="created_at")
    def created_date(self, order: Order):
        return order.created_at.date() if order.created_at else None

    @admin.display(description="total", ordering="total")
    def total_display(self, order: Order) -> str:
        return format_money(order.total, order.currency)

    @admin.display(description="status", ordering="status")
    def status_badge(self, order: Order) -> str:
        return status_badge(order)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orders come from checkout only

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # an order is a financial record

    @admin.action(description="Cancel selected orders", permissions=["change"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        cancelled: list[str] = []
        skipped: list[str] = []
        for order in queryset.order_by("pk"):
            if not order_can_transition(current=order.status, target=Order.Status.CANCELLED):
                skipped.append(f"{order.number} ({order.get_status_display().lower()})")
                continue
            try:
                order_set_status(order=order, status=Order.Status.CANCELLED)
            except InvalidOrderTransition:  # its status changed since the list was shown
                order.refresh_from_db(fields=["status"])
                skipped.append(f"{order.number} ({order.get_status_display().lower()})")
                continue
            cancelled.append(order.number)
        if cancelled:
            self.message_user(
                request,
                f"Cancelled {len(cancelled)} order(s): {', '.join(cancelled)}.",
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                f"Skipped {len(skipped)} order(s) whose status can't be cancelled: "
                f"{', '.join(skipped)}.",
                messages.WARNING,
            )
