"""Shipping in the merchant's admin: the shipping methods, and the order's fulfilment.

- ``ShippingMethodAdmin``: name, price, the countries it delivers to, free from an amount.
- ``FulfilmentAdminMixin`` (part of ``orders.admin.OrderAdmin``): the order page's "Shipping"
  block (address, method, where the parcel is), its "Mark shipped" form (carrier, tracking number,
  tracking URL) and "Mark delivered", and the list's bulk action that ships many orders at once.
  Every change goes through ``orders.services.order_ship`` / ``order_mark_delivered``, which lock
  the order, write the history line and enqueue the shopper's e-mail.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from orders.exceptions import FulfilmentError
from orders.models import Order, OrderEvent, ShippingMethod
from orders.money import format_money
from orders.services.fulfilment import (
    order_check_shippable,
    order_mark_delivered,
    order_ship,
    order_tracking_correct,
    shipment_details_clean,
)

F = Order.Fulfilment
SHIPPING_FIELDS = ("shipping_address_display", "shipping_method_display", "fulfilment_display")


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = ("name", "price_display", "free_over_display", "countries_display", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name",)
    fields = ("name", "price", "currency", "free_over", "countries", "is_active", "position")

    @admin.display(description="price", ordering="price")
    def price_display(self, method: ShippingMethod) -> str:
        return format_money(method.price, method.currency)

    @admin.display(description="free from", ordering="free_over")
    def free_over_display(self, method: ShippingMethod) -> str:
        return "-" if method.free_over is None else format_money(method.free_over, method.currency)

    @admin.display(description="countries")
    def countries_display(self, method: ShippingMethod) -> str:
        codes = [str(c) for c in method.countries]
        if not codes:
            return "every country"
        return ", ".join(codes[:12]) + (f" and {len(codes) - 12} more" if len(codes) > 12 else "")


class ShipForm(forms.Form):
    """The "Mark shipped" form; its rules are ``shipment_details_clean``'s."""

    carrier = forms.CharField(label="Carrier", required=False, strip=False)
    tracking_number = forms.CharField(label="Tracking number", required=False, strip=False)
    tracking_url = forms.CharField(
        label="Tracking URL",
        required=False,
        strip=False,
        help_text="The carrier's page for this parcel: https:// or http:// only.",
        widget=forms.URLInput(attrs={"size": 60}),
    )

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        try:
            carrier, number, url = shipment_details_clean(
                carrier=cleaned.get("carrier", ""),
                tracking_number=cleaned.get("tracking_number", ""),
                tracking_url=cleaned.get("tracking_url", ""),
            )
        except FulfilmentError as exc:
            self.add_error(exc.field or None, str(exc))
            return cleaned
        return {"carrier": carrier, "tracking_number": number, "tracking_url": url}


def tracking_html(order: Order) -> str:
    """Carrier, tracking number and a safe link (the URL was checked: http or https only)."""
    parts = [format_html("{}", order.carrier)]
    if order.tracking_number:
        parts.append(format_html("tracking number <code>{}</code>", order.tracking_number))
    if order.tracking_url:
        parts.append(
            format_html(
                '<a href="{}" target="_blank" rel="noopener noreferrer">tracking page</a>',
                order.tracking_url,
            )
        )
    return format_html_join(", ", "{}", ((part,) for part in parts))


class FulfilmentAdminMixin:
    """The order admin's shipping parts (see the module's docstring)."""

    @admin.display(description="ships to")
    def shipping_address_display(self, order: Order) -> str:
        lines = order.shipping_address_lines + (
            [order.shipping_phone] if order.shipping_phone else []
        )
        if not lines:
            return "-"
        return format_html(
            '<address class="shipping-address">{}</address>',
            format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines)),
        )

    @admin.display(description="shipping method")
    def shipping_method_display(self, order: Order) -> str:
        if not order.requires_shipping:
            return "-"
        return f"{order.shipping_method_name}, {format_money(order.shipping_price, order.currency)}"

    @admin.display(description="fulfilment")
    def fulfilment_display(self, order: Order) -> str:
        status = order.get_fulfilment_status_display()
        if order.fulfilment_status in (F.SHIPPED, F.DELIVERED):
            text = format_html("{}: {}", status, tracking_html(order))
            correct = reverse("admin:orders_order_tracking", args=[order.pk])
            text = format_html('{} <a class="button" href="{}">Correct tracking</a>', text, correct)
            if order.fulfilment_status == F.SHIPPED:
                link = reverse("admin:orders_order_deliver", args=[order.pk])
                text = format_html('{} <a class="button" href="{}">Mark delivered</a>', text, link)
            return text
        if order.fulfilment_status != F.UNFULFILLED:
            return status
        try:
            order_check_shippable(order=order)
        except FulfilmentError as exc:
            return f"{status}. {exc}"
        link = reverse("admin:orders_order_ship", args=[order.pk])
        return format_html('{} <a class="button" href="{}">Mark shipped</a>', status, link)

    def get_urls(self):
        view = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path("<path:object_id>/ship/", view(self.ship_view), name="orders_order_ship"),
            path("<path:object_id>/deliver/", view(self.deliver_view), name="orders_order_deliver"),
            path(
                "<path:object_id>/tracking/", view(self.tracking_view), name="orders_order_tracking"
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def _order_for_change(self, request: HttpRequest, object_id: str) -> Order:
        order = self.get_object(request, object_id)  # type: ignore[attr-defined]
        if order is None:
            raise Http404("No such order")
        if not self.has_change_permission(request, order):  # type: ignore[attr-defined]
            raise PermissionDenied
        return order

    def _change_url(self, order: Order) -> str:
        return reverse("admin:orders_order_change", args=[order.pk])

    def ship_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Mark shipped": the form, then ``order_ship``; back to the order with a message."""
        order = self._order_for_change(request, object_id)
        form = ShipForm(request.POST or None)
        problem = ""
        if request.method == "POST" and form.is_valid():
            try:
                _, changed = order_ship(
                    order=order,
                    **form.cleaned_data,
                    source=OrderEvent.Source.ADMIN,
                    actor=request.user.get_username(),
                )
            except FulfilmentError as exc:
                problem = str(exc)
            else:
                text = (
                    f"Order {order.number} marked shipped; the shopper gets an e-mail."
                    if changed
                    else f"Order {order.number} was already shipped: nothing changed."
                )
                self.message_user(  # type: ignore[attr-defined]
                    request, text, messages.SUCCESS if changed else messages.WARNING
                )
                return HttpResponseRedirect(self._change_url(order))
        return self._fulfilment_page(
            request,
            order,
            title=f"Mark order {order.number} shipped",
            form=form,
            button="Mark shipped",
            problem=problem,
        )

    def tracking_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Correct tracking": the shipped order's details, then ``order_tracking_correct``."""
        order = self._order_for_change(request, object_id)
        initial = {
            "carrier": order.carrier,
            "tracking_number": order.tracking_number,
            "tracking_url": order.tracking_url,
        }
        form = ShipForm(request.POST or None, initial=initial)
        problem = ""
        if request.method == "POST" and form.is_valid():
            try:
                _, changed = order_tracking_correct(
                    order=order,
                    **form.cleaned_data,
                    source=OrderEvent.Source.ADMIN,
                    actor=request.user.get_username(),
                )
            except FulfilmentError as exc:
                problem = str(exc)
            else:
                self.message_user(  # type: ignore[attr-defined]
                    request,
                    f"Order {order.number}: tracking details corrected (no new e-mail)."
                    if changed
                    else f"Order {order.number}: the tracking details were already these.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._change_url(order))
        return self._fulfilment_page(
            request,
            order,
            title=f"Correct the tracking of order {order.number}",
            form=form,
            button="Save the tracking details",
            problem=problem,
        )

    def deliver_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Mark delivered": a confirmation, then ``order_mark_delivered``."""
        order = self._order_for_change(request, object_id)
        if request.method == "POST":
            try:
                _, changed = order_mark_delivered(
                    order=order, source=OrderEvent.Source.ADMIN, actor=request.user.get_username()
                )
            except FulfilmentError as exc:
                self.message_user(request, str(exc), messages.ERROR)  # type: ignore[attr-defined]
            else:
                self.message_user(  # type: ignore[attr-defined]
                    request,
                    f"Order {order.number} marked delivered."
                    if changed
                    else f"Order {order.number} was already delivered.",
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(self._change_url(order))
        return self._fulfilment_page(
            request,
            order,
            title=f"Mark order {order.number} delivered",
            form=None,
            button="Mark delivered",
            problem="",
        )

    def _fulfilment_page(self, request, order, *, title, form, button, problem) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": title,
            "order": order,
            "form": form,
            "button": button,
            "problem": problem,
            "opts": Order._meta,
            "change_url": self._change_url(order),
            "address": self.shipping_address_display(order),
            "method": self.shipping_method_display(order),
        }
        status = 400 if problem or (form is not None and form.errors) else 200
        return TemplateResponse(
            request, "admin/orders/order/fulfilment.html", context, status=status
        )

    @admin.action(description="Mark selected orders shipped", permissions=["change"])
    def ship_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        """Ship many orders at once: one carrier, and each order's tracking number and URL.
        The first call shows the form; its "Mark shipped" posts back here with ``apply``."""
        orders = list(queryset.order_by("pk"))
        ready, skipped = _shippable(orders)
        form = ShipForm(request.POST if "apply" in request.POST else None)
        rows = [
            _BulkRow(order, request.POST if "apply" in request.POST else None) for order in ready
        ]
        if "apply" in request.POST and ready and form.is_valid() and all(r.valid for r in rows):
            self._ship_rows(request, rows, carrier=form.cleaned_data["carrier"])
            return None
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": "Mark orders shipped",
            "form": form,
            "rows": rows,
            "skipped": skipped,
            "opts": Order._meta,
            "action": "ship_orders",
            "selected": [order.pk for order in orders],
        }
        return TemplateResponse(request, "admin/orders/order/ship_selected.html", context)

    def _ship_rows(self, request: HttpRequest, rows: list[_BulkRow], *, carrier: str) -> None:
        shipped: list[str] = []
        already: list[str] = []
        refused: list[str] = []
        for row in rows:
            try:
                _, changed = order_ship(
                    order=row.order,
                    carrier=carrier,
                    tracking_number=row.tracking_number,
                    tracking_url=row.tracking_url,
                    source=OrderEvent.Source.ADMIN,
                    actor=request.user.get_username(),
                )
            except FulfilmentError as exc:
                refused.append(str(exc))
                continue
            (shipped if changed else already).append(row.order.number)
        say = self.message_user  # type: ignore[attr-defined]
        if shipped:
            say(request, f"Marked {len(shipped)} order(s) shipped: {', '.join(shipped)}.")
        if already:
            say(request, f"Already shipped, unchanged: {', '.join(already)}.", messages.WARNING)
        for text in refused:
            say(request, text, messages.ERROR)


def _shippable(orders: list[Order]) -> tuple[list[Order], list[tuple[Order, str]]]:
    """The orders that can be marked shipped now, and the others with the reason."""
    ready, skipped = [], []
    for order in orders:
        if order.fulfilment_status in (F.SHIPPED, F.DELIVERED):
            skipped.append((order, "already shipped"))
            continue
        try:
            order_check_shippable(order=order)
        except FulfilmentError as exc:
            skipped.append((order, str(exc)))
            continue
        ready.append(order)
    return ready, skipped


class _BulkRow:
    """One order of the bulk form: its own tracking number and URL (both optional)."""

    def __init__(self, order: Order, data) -> None:
        self.order = order
        self.number_name = f"tracking_number_{order.pk}"
        self.url_name = f"tracking_url_{order.pk}"
        self.tracking_number = ""
        self.tracking_url = ""
        self.error = ""
        if data is None:
            return
        try:
            _, self.tracking_number, self.tracking_url = shipment_details_clean(
                carrier="-",
                tracking_number=data.get(self.number_name, ""),
                tracking_url=data.get(self.url_name, ""),
            )
        except FulfilmentError as exc:
            self.error = str(exc)
            self.tracking_number = str(data.get(self.number_name, ""))[:200]
            self.tracking_url = str(data.get(self.url_name, ""))[:600]

    @property
    def valid(self) -> bool:
        return not self.error

    @property
    def address(self) -> str:
        return self.order.shipping_address_text
