"""The merchant's admin for products and orders.

Imports point one way (docs/development.md, "Layers"): this module knows no payment provider
and nothing of webhooks. The provider's app extends ``OrderAdmin`` with its payment attempts and
its re-check action, and the webhooks app with the order's webhook events; each re-registers
``Order`` with its subclass. Texts that name the provider ask it for its name
(``orders.payments.provider_label``).

Statuses are never edited in the form: they change through the actions, which go through
``orders.services`` like every other writer. The order page shows its open flags and its history
(every transition, flag, check with the payment provider, shopper's confirmation and e-mail).

Recurring orders: the order page shows the plan's schedule (every installment's due date, paid
with its date and transaction, failed with the reason, missed, or expected), and the
subscriptions have their own list (state, next expected date, installments paid and failed).
Missed and failed installments are flags, so they are in "needs attention" like any other.

Products: a photo uploaded on the product's page is checked from its content
(``orders.forms.ProductPhotoField``) and gets its sized variants once, on save
(``orders.photos``). The order list filters by the dates an order was placed and paid
(django-admin-rangefilter); amounts show with their currency; a paid order's name and e-mail are
read-only (what the payment was for).
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.functional import lazy
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import smart_split, unescape_string_literal
from django.utils.timezone import localtime
from rangefilter.filters import DateRangeFilterBuilder

from orders.access import order_signed_url
from orders.admin_exports import OrderExportMixin
from orders.admin_refunds import OrderRefundAdminMixin
from orders.admin_selectors import (
    ANY_ATTENTION,
    COMPUTED_REASONS,
    PAID_TODAY,
    PAID_WEEK,
    order_needs_attention_q,
    order_paid_within_q,
    subscription_installment_received_within,
)
from orders.admin_shipping import SHIPPING_FIELDS, FulfilmentAdminMixin
from orders.exceptions import PlanCancelError
from orders.forms import ProductAdminForm, ProductListForm
from orders.models import (
    Installment,
    Order,
    OrderEvent,
    OrderFlag,
    OrderItem,
    Product,
    Subscription,
)
from orders.money import format_money
from orders.notifications import order_status_display
from orders.payments import provider_label
from orders.photos import photo_upload_body_limit, product_photo_variants_make
from orders.plans import day_words, next_words, subscription_plan_words
from orders.services import EndResult, order_can_transition, order_cancel, order_flags_resolve
from orders.services.cancellation import subscription_cancel, subscription_stop_confirm
from orders.templatetags.shop import product_picture
from storefront.admin_mixins import LargeTablePaginator, ReadOnlyAdminMixin

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
    return format_html(BADGE, order.status, colour, order_status_display(order))


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductAdminForm
    list_display = (
        "name",
        "slug",
        "price",
        "currency",
        "frequency",
        "requires_shipping",
        "stock",
        "is_active",
    )
    list_editable = ("is_active", "stock", "price")
    list_filter = ("is_active", "frequency", "requires_shipping")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("photo_preview",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "slug",
                    "description",
                    "price",
                    "currency",
                    "stock",
                    "is_active",
                    "requires_shipping",
                )
            },
        ),
        ("Pictures", {"fields": ("photo", "photo_preview", "image")}),
        (
            "Recurring plan",
            {
                "fields": ("frequency", "periods", "plan_end_date"),
                "description": "A recurring product is sold as a plan: its price now, then every "
                "period, for the number of payments or until the last date (or until cancelled "
                "when both are empty). One order holds one plan and nothing else.",
            },
        ),
    )

    def get_changelist_form(self, request: HttpRequest, **kwargs):
        return super().get_changelist_form(request, form=ProductListForm, **kwargs)

    @admin.display(description="as the shop shows it")
    def photo_preview(self, product: Product) -> str:
        return product_picture(product, 160, alt=f"{product.name}, as the catalog shows it") or "-"

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        """A new (or cleared) photo gets its sized variants now, once; the files of the photo it
        replaces are deleted after the commit."""
        photo_changed = "photo" in form.changed_data
        replaced = None
        if change and photo_changed:
            replaced = Product.objects.values_list("photo", "photo_variants").get(pk=obj.pk)
        super().save_model(request, obj, form, change)
        if photo_changed:
            product_photo_variants_make(product=obj, replaced=replaced)

    def get_urls(self):
        urls = super().get_urls()
        opts = self.model._meta
        forms = {f"{opts.app_label}_{opts.model_name}_{view}" for view in ("add", "change")}
        for url in urls:  # the add and change forms take a photo: a larger body (storefront.limits)
            if url.name in forms:
                url.callback.max_body_bytes = photo_upload_body_limit  # type: ignore[attr-defined]
        return urls


def _provider_words_now(template: str) -> str:
    return template.format(provider=provider_label())


# Labels built when the admin is loaded, which may be before the provider registers: filled in
# when they are shown.
_provider_words = lazy(_provider_words_now, str)

MAX_SCHEDULE_ROWS = 120
SEARCH_RELATED_MAX = 1000  # orders matched through a relation (a search this wide is refined)


def subscription_schedule(subscription: Subscription) -> SafeString:
    """The plan's schedule as an HTML table: each installment's due date and what became of it
    (paid with its date and the provider's transaction, failed with its reason, missed, expected),
    and
    any charge outside the plan."""
    plan = subscription.plan
    rows = list(subscription.installments.all())
    missed = {
        flag.reference.split("-")[1]
        for flag in OrderFlag.objects.filter(
            order_id=subscription.order_id, kind=OrderFlag.Kind.INSTALLMENT_MISSED
        )
        if flag.reference.count("-") >= 2
    }
    recorded: dict[int, list[Installment]] = {}
    for row in rows:
        recorded.setdefault(row.number, []).append(row)
    count = plan.count
    seen = max([*recorded, subscription.next_number or 0])
    last = count - 1 if count is not None else seen + 2
    numbers = sorted(set(range(min(last + 1, MAX_SCHEDULE_ROWS))) | set(recorded))
    lines = []
    for n in numbers:
        due = plan.due(n)
        texts = [_installment_text(row) for row in recorded.get(n, [])]
        if not texts:
            if str(n) in missed:
                texts = [f"missed: {provider_label()} had no charge for it (flagged)"]
            elif subscription.next_number == n:
                texts = ["expected next"]
            elif subscription.state == Subscription.State.CANCELLED:
                texts = ["not due: the plan was cancelled"]
            elif subscription.state == Subscription.State.ENDED or (
                subscription.next_number is not None and n < subscription.next_number
            ):
                texts = ["not received"]
            else:
                texts = ["scheduled"]
        lines.append((n + 1, day_words(due) if due else "after the plan's end", "; ".join(texts)))
    table = format_html(
        '<table class="plan-schedule"><thead><tr><th>payment</th><th>due</th><th>what happened'
        "</th></tr></thead><tbody>{}</tbody></table>",
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", lines),
    )
    return format_html(
        "<p>{}: {}. {}</p>{}",
        subscription.product_name,
        subscription_plan_words(subscription),
        next_words(subscription) or subscription.get_state_display(),
        table,
    )


def _installment_text(row: Installment) -> str:
    what = row.get_status_display().lower()
    when = day_words(row.occurred_at) if row.occurred_at else ""
    text = f"{what} on {when}" if when and row.status == Installment.Status.PAID else what
    if row.amount is not None:
        text += f", {format_money(row.amount, row.currency)}"
    if row.fail_reason:
        text += f": {row.fail_text or row.fail_reason} ({row.fail_reason})"
    if row.transaction_id:
        text += f", transaction {row.transaction_id}"
    return text


class OrderItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderItem
    extra = 0
    fields = ("product_name", "product", "unit_price_display", "quantity", "line_total_display")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderItem]:
        # The products with the lines: one query whatever the number of lines.
        return super().get_queryset(request).select_related("order", "product")

    @admin.display(description="unit price")
    def unit_price_display(self, item: OrderItem) -> str:
        return format_money(item.unit_price, item.order.currency)

    @admin.display(description="line total")
    def line_total_display(self, item: OrderItem) -> str:
        return format_money(item.line_total, item.order.currency)


class NeedsAttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "needs_attention"

    def lookups(self, request, model_admin):
        return [
            (ANY_ATTENTION, "Any reason"),
            *OrderFlag.Kind.choices,
            *COMPUTED_REASONS.items(),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        try:
            return queryset.filter(order_needs_attention_q(reason=value))
        except ValueError:
            return queryset.none()


class PeriodFilter(admin.SimpleListFilter):
    """Today / this week (``orders.admin_selectors.paid_since``); ``within(period=...)``, the
    selector of what falls in, is set by each filter."""

    within: Callable[..., Q | Exists]

    def lookups(self, request, model_admin):
        return [(PAID_TODAY, "Today"), (PAID_WEEK, "This week")]

    def queryset(self, request, queryset):
        value = self.value()
        if value in (PAID_TODAY, PAID_WEEK):
            return queryset.filter(self.within(period=value))
        return queryset


class PaidWithinFilter(PeriodFilter):
    title = "paid"
    parameter_name = "paid"
    within = staticmethod(order_paid_within_q)


class InstallmentReceivedFilter(PeriodFilter):
    """Plans with a later installment received today / this week: the list the admin index's
    "Installments received" lines open."""

    title = "installment received"
    parameter_name = "installment"
    within = staticmethod(subscription_installment_received_within)


class OrderFlagInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderFlag
    extra = 0
    fields = ("kind", "note", "reference", "created_at", "resolved_at", "resolved_by")
    readonly_fields = fields
    verbose_name = "flag"
    verbose_name_plural = "flags (needs attention while not handled)"


class OrderHistoryInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The order's timeline, oldest first. Append-only: nothing here can be edited. Shown as a
    plain table (its template) rather than one inline form per line: an order can carry dozens
    of lines, and their forms cost more than the rest of the page."""

    model = OrderEvent
    template = "admin/orders/order/history_inline.html"
    extra = 0
    fields = ("at", "kind", "source", "actor", "change", "message")
    readonly_fields = fields
    ordering = ("at", "pk")
    verbose_name = "history entry"
    verbose_name_plural = "history"

    @admin.display(description="status")
    def change(self, event: OrderEvent) -> str:
        if event.from_status and event.to_status and event.from_status != event.to_status:
            return f"{event.from_status} → {event.to_status}"
        return event.to_status or ""


UNREACHABLE = "unreachable"  # EndResult.UNKNOWN while the payment provider can't be reached


def cancel_outcome(*, order: Order, result: str) -> str:
    """``result`` of ``order_cancel``, with "could not ask" split by its reason."""
    if result == EndResult.UNKNOWN and order.provider_unreachable_since is not None:
        return UNREACHABLE
    return result


CANCEL_REPORTS: dict[str, tuple[str, int]] = {
    EndResult.DONE: ("Cancelled {n} order(s): {orders}.", messages.SUCCESS),
    EndResult.PAID: (
        "Not cancelled, a completed payment was found, the order is paid: {orders}.",
        messages.WARNING,
    ),
    UNREACHABLE: (
        "Not cancelled: {provider} can't be reached right now, so it could not confirm that "
        "nothing was paid. Nothing changed; try again later: {orders}.",
        messages.ERROR,
    ),
    EndResult.UNKNOWN: (
        "Not cancelled: {provider} is still answering about a payment for them (a shopper may "
        "be paying right now). Nothing changed; try again in a moment: {orders}.",
        messages.ERROR,
    ),
    EndResult.NOT_ALLOWED: (
        "Skipped {n} order(s) whose status can't be cancelled: {orders}.",
        messages.WARNING,
    ),
}


CUSTOMER_FIELDS = ("name", "email")


@admin.register(Order)
class OrderAdmin(FulfilmentAdminMixin, OrderRefundAdminMixin, OrderExportMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "created_date",
        "email",
        "name",
        "total_display",
        "status_badge",
        "paid_at_display",
        "payment_reference_display",
    )
    list_display_links = ("number",)
    list_filter = (
        "status",
        "fulfilment_status",
        ("created_at", DateRangeFilterBuilder(title="placed between")),
        ("paid_at", DateRangeFilterBuilder(title="paid between")),
        NeedsAttentionFilter,
        PaidWithinFilter,
    )
    search_fields = ["number", "email", "name", "payment_reference"]
    list_per_page = 50
    # No count of the whole table on each page (docs/benchmarks.md, "At a year of orders"), and
    # no date hierarchy: its links are a DISTINCT over every order's date (the "placed between"
    # filter takes any range).
    show_full_result_count = False
    paginator = LargeTablePaginator
    inlines = [OrderItemInline, OrderFlagInline, OrderHistoryInline]
    actions = ["cancel_orders", "resolve_flags", "ship_orders", "export_orders_csv"]
    fieldsets = (
        (None, {"fields": ("number", "status_badge", "created_at", "public_id")}),
        ("Customer", {"fields": ("name", "email")}),
        ("Money", {"fields": ("subtotal_display", "shipping_price_display", "total_display")}),
        (
            "Payment",
            {
                "fields": (
                    "paid_at",
                    "payment_reference",
                    "payment_claimed_at",
                    "payment_error",
                    "provider_unreachable_since",
                    "status_changed_at",
                )
            },
        ),
        ("Refunds", {"fields": ("refunds_display",)}),
    )
    # Only the shopper's name and e-mail can be corrected here, and only before the order is
    # paid (get_readonly_fields); the rest is a financial record.
    readonly_fields = (
        *(str(f) for _, group in fieldsets for f in group["fields"] if f not in CUSTOMER_FIELDS),
        "plan_schedule",
        *SHIPPING_FIELDS,
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.is_paid:  # what the payment was for, as the shopper gave it
            return (*fields, *CUSTOMER_FIELDS)
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Order | None = None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.requires_shipping:
            fieldsets = (*fieldsets, ("Shipping", {"fields": SHIPPING_FIELDS}))
        if obj is not None and obj.recurring:
            fieldsets = (*fieldsets, ("Recurring plan", {"fields": ("plan_schedule",)}))
        return fieldsets

    @admin.display(description="schedule")
    def plan_schedule(self, order: Order) -> str:
        subscription = Subscription.objects.filter(order=order).first()
        if subscription is None:
            return "-"
        link = reverse("admin:orders_subscription_change", args=[subscription.pk])
        return format_html(
            '{}<p><a href="{}">The subscription</a></p>', subscription_schedule(subscription), link
        )

    @admin.display(description="created", ordering="created_at")
    def created_date(self, order: Order) -> str:
        return date_format(localtime(order.created_at), "j M Y") if order.created_at else "-"

    @admin.display(description="total", ordering="total")
    def total_display(self, order: Order) -> str:
        return format_money(order.total, order.currency)

    @admin.display(description="subtotal")
    def subtotal_display(self, order: Order) -> str:
        return format_money(order.subtotal, order.currency)

    @admin.display(description="shipping")
    def shipping_price_display(self, order: Order) -> str:
        return format_money(order.shipping_price, order.currency)

    # The list fits 1280 px (templates/admin/orders/order/change_list.html, static/storefront/
    # admin.css): a short paid-at, and the provider's payment id whole but over two lines.
    @admin.display(description="paid at", ordering="paid_at")
    def paid_at_display(self, order: Order) -> str:
        if order.paid_at is None:
            return "-"
        return date_format(localtime(order.paid_at), "j M Y, H:i")

    @admin.display(
        description=_provider_words("{provider} payment id"), ordering="payment_reference"
    )
    def payment_reference_display(self, order: Order) -> str:
        if not order.payment_reference:
            return "-"
        return format_html('<code class="payment-id">{}</code>', order.payment_reference)

    @admin.display(description="status", ordering="status")
    def status_badge(self, order: Order) -> str:
        return status_badge(order)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        """Django's search (every word in one of the fields, case-insensitive), except that a
        field through a relation (the payment attempts' provider ids, which the provider's admin
        adds) is looked up first in its own table, and its orders matched by their keys: a join
        would repeat orders and need a DISTINCT over the whole list, and each part reads its own
        index (trigram indexes on PostgreSQL) rather than every order."""
        fields = list(self.get_search_fields(request))
        related = [f for f in fields if "__" in f]
        if not search_term or not related or any(f[0] in "^=@" for f in fields):
            return super().get_search_results(request, queryset, search_term)
        own = [f for f in fields if f not in related]
        match = Q()
        for word in smart_split(search_term):
            if word[0] in "\"'" and word[0] == word[-1] and len(word) > 1:
                word = unescape_string_literal(word)
            either = Q(*(Q(**{f"{f}__icontains": word}) for f in own), _connector=Q.OR)
            for name in related:
                either |= Q(pk__in=self._related_keys(name, word))
            match &= either
        return queryset.filter(match), False

    def _related_keys(self, name: str, word: str) -> list[int]:
        """Keys of the orders whose ``name`` (``relation__field``) contains ``word``."""
        relation, _, rest = name.partition("__")
        field = self.model._meta.get_field(relation)
        rows = field.related_model._default_manager.filter(
            **{f"{rest}__icontains": word}
        ).order_by()
        return list(rows.values_list(field.field.attname, flat=True)[:SEARCH_RELATED_MAX])

    def view_on_site(self, order: Order) -> str:
        """The shopper's page, with its signed key (the owner's session is not the merchant's)."""
        return order_signed_url(order=order)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orders come from checkout only

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # an order is a financial record

    @admin.action(
        description=_provider_words("Cancel selected orders ({provider} is asked first)"),
        permissions=["change"],
    )
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        done: dict[str, list[str]] = {outcome: [] for outcome in CANCEL_REPORTS}
        for order in queryset.order_by("pk"):
            if not order_can_transition(current=order.status, target=Order.Status.CANCELLED):
                done[EndResult.NOT_ALLOWED].append(
                    f"{order.number} ({order_status_display(order)})"
                )
                continue
            result = order_cancel(
                order=order, source=OrderEvent.Source.ADMIN, actor=request.user.get_username()
            )
            done[cancel_outcome(order=order, result=result)].append(order.number)
        for outcome, (text, level) in CANCEL_REPORTS.items():
            if done[outcome]:
                orders = ", ".join(done[outcome])
                said = text.format(n=len(done[outcome]), orders=orders, provider=provider_label())
                self.message_user(request, said, level)

    @admin.action(description="Mark flags as handled", permissions=["change"])
    def resolve_flags(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        actor = request.user.get_username()
        total = sum(order_flags_resolve(order=order, actor=actor) for order in queryset)
        self.message_user(request, f"{total} flag(s) marked as handled.", messages.SUCCESS)


def installments_counted(status: str) -> Coalesce:
    """A plan's installments in ``status``, as a subquery per plan."""
    counted = (
        Installment.objects.filter(subscription=OuterRef("pk"), status=status)
        .order_by()
        .values("subscription")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted), 0)


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Each recurring order's plan: its state, the installments paid and failed, the next
    expected date, and the whole schedule. Read-only (installments come from the payment provider
    only), but for two actions: cancel plans (the provider is asked to stop charging), and confirm
    that a plan the provider could not stop was stopped in its dashboard."""

    list_display = (
        "order_link",
        "product_name",
        "amount_display",
        "frequency",
        "state",
        "next_due_date",
        "paid_count",
        "failed_count",
        "provider_stop",
    )
    # The order column links to the order; the product opens the subscription (a link inside
    # Django's row link would leave an empty link behind).
    list_display_links = ("product_name",)
    list_filter = ("state", "provider_stop", "frequency", InstallmentReceivedFilter)
    search_fields = ("order__number", "order__email", "product_name")
    actions = ["cancel_plans", "confirm_stopped"]
    list_select_related = ("order",)
    list_per_page = 50
    show_full_result_count = False
    paginator = LargeTablePaginator
    fields = (
        "order_link",
        "product_name",
        "amount_display",
        "state",
        "next_number_display",
        "next_due_date",
        "provider_checked_at",
        "cancelled_at",
        "cancelled_by",
        "provider_stop",
        "provider_stopped_at",
        "schedule",
    )
    readonly_fields = fields

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        """Cancelling a plan (and confirming it stopped) is changing its order."""
        return request.user.has_perm("orders.change_order")

    @admin.action(
        description="Cancel selected plans (the payment provider is asked to stop charging)",
        permissions=["cancel"],
    )
    def cancel_plans(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        actor = request.user.get_username()
        for subscription in queryset.select_related("order").order_by("pk"):
            order = subscription.order
            try:
                done = subscription_cancel(order=order, source=OrderEvent.Source.ADMIN, actor=actor)
            except PlanCancelError as exc:
                self.message_user(
                    request, f"{order.number}: not cancelled: {exc}", messages.WARNING
                )
                continue
            if done.stop.stopped:
                text = f"{order.number}: plan cancelled; {done.stop.message}"
                self.message_user(request, text, messages.SUCCESS)
            else:
                text = (
                    f"{order.number}: plan cancelled, but NOT stopped at the payment provider: "
                    f"{done.stop.message} The order is flagged until you confirm it "
                    '(action "Confirm stopped in the payment provider\'s dashboard").'
                )
                self.message_user(request, text, messages.WARNING)

    @admin.action(
        description="Confirm stopped in the payment provider's dashboard", permissions=["cancel"]
    )
    def confirm_stopped(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        actor = request.user.get_username()
        confirmed: list[str] = []
        skipped: list[str] = []
        for subscription in queryset.select_related("order").order_by("pk"):
            ok = subscription_stop_confirm(order=subscription.order, actor=actor)
            (confirmed if ok else skipped).append(subscription.order.number)
        if confirmed:
            self.message_user(
                request, f"Confirmed stopped: {', '.join(confirmed)}.", messages.SUCCESS
            )
        if skipped:
            self.message_user(
                request,
                f"Nothing to confirm (not cancelled, or stopped already): {', '.join(skipped)}.",
                messages.WARNING,
            )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscription]:
        # Counted per row shown (subqueries), not by grouping every plan's installments.
        return (
            super()
            .get_queryset(request)
            .annotate(
                paid=installments_counted(Installment.Status.PAID),
                failed=installments_counted(Installment.Status.FAILED),
            )
        )

    @admin.display(description="order", ordering="order__number")
    def order_link(self, subscription: Subscription) -> str:
        link = reverse("admin:orders_order_change", args=[subscription.order_id])
        return format_html('<a href="{}">{}</a>', link, subscription.order.number)

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, subscription: Subscription) -> str:
        return format_money(subscription.amount, subscription.currency)

    @admin.display(description="paid", ordering="paid")
    def paid_count(self, subscription: Subscription) -> int:
        return getattr(subscription, "paid", 0)

    @admin.display(description="failed", ordering="failed")
    def failed_count(self, subscription: Subscription) -> int:
        return getattr(subscription, "failed", 0)

    @admin.display(description="next installment")
    def next_number_display(self, subscription: Subscription) -> str:
        return "-" if subscription.next_number is None else str(subscription.next_number + 1)

    @admin.display(description="schedule")
    def schedule(self, subscription: Subscription) -> str:
        return subscription_schedule(subscription)
