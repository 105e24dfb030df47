"""The merchant records a refund on the order's admin page: "Record a refund" opens a form (which
payment, how much, why) at ``/admin/orders/order/<id>/refund/``.

The payment provider may have no refund call: the merchant refunds in its dashboard first, then
records it here. ``orders.services.refunds.order_refund_record`` checks the amount under the
order's lock (at most what the payment brought minus what was refunded already) and goes through
the provider. A refused refund re-shows the form with the reason (status 400); nothing is stored.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from orders.exceptions import RefundError
from orders.models import Order
from orders.money import format_money
from orders.services.refunds import (
    REASON_MAX,
    order_refund_record,
    order_refundables,
    refund_amount_parse,
    refund_reason_clean,
)


class RefundForm(forms.Form):
    payment = forms.ChoiceField(label="Payment refunded")
    amount = forms.CharField(
        label="Amount refunded",
        max_length=20,
        help_text="What you refunded in the payment provider's dashboard, e.g. 9.90.",
    )
    reason = forms.CharField(
        label="Reason",
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The shopper reads it in the e-mail about the refund.",
    )

    def __init__(self, *args, order: Order, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.refundables = [r for r in order_refundables(order=order) if r.left > 0]
        payment = self.fields["payment"]
        assert isinstance(payment, forms.ChoiceField)
        payment.choices = [
            (r.key, f"{r.label}: {format_money(r.left, r.currency)} left to refund")
            for r in self.refundables
        ]
        if self.refundables:
            self.fields["amount"].initial = str(self.refundables[0].left)

    def clean_amount(self) -> str:
        try:
            return str(refund_amount_parse(self.cleaned_data["amount"]))
        except RefundError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_reason(self) -> str:
        try:
            return refund_reason_clean(self.cleaned_data["reason"])
        except RefundError as exc:
            raise forms.ValidationError(str(exc)) from exc


class OrderRefundAdminMixin:
    """For ``OrderAdmin``: the refund form's URL and view, and the order's refunds as a field."""

    def get_urls(self):
        urls = super().get_urls()  # type: ignore[misc]
        view = self.admin_site.admin_view(self.refund_view)  # type: ignore[attr-defined]
        return [path("<path:object_id>/refund/", view, name="orders_order_refund"), *urls]

    def refunds_display(self, order: Order) -> str:
        rows = list(order.refunds.select_related("installment"))
        listed = format_html_join(
            "",
            "<li>{}: {} {} by {}: {}</li>",
            (
                (
                    r.created_at.strftime("%Y-%m-%d %H:%M"),
                    format_money(r.amount, r.currency),
                    f"(installment {r.installment.number + 1})" if r.installment else "",
                    r.recorded_by or "-",
                    r.reason,
                )
                for r in rows
            ),
        )
        link = reverse("admin:orders_order_refund", args=[order.pk])
        state = order.refund_state_display or "Nothing refunded"
        return format_html(
            '<p>{}{}</p><ul class="refunds">{}</ul><p><a class="button" href="{}">Record a '
            "refund</a></p>",
            state,
            f" ({format_money(order.refunded_total, order.currency)})" if rows else "",
            listed,
            link,
        )

    refunds_display.short_description = "refunds"  # type: ignore[attr-defined]

    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = Order.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if order is None:
            raise Http404("No such order")
        if not self.has_change_permission(request, order):  # type: ignore[attr-defined]
            raise PermissionDenied
        change_url = reverse("admin:orders_order_change", args=[order.pk])
        form = RefundForm(request.POST or None, order=order)
        status = 200
        if request.method == "POST":
            if form.is_valid():
                try:
                    refund = order_refund_record(
                        order=order,
                        payment=form.cleaned_data["payment"],
                        amount=form.cleaned_data["amount"],
                        reason=form.cleaned_data["reason"],
                        actor=request.user.get_username(),
                    )
                except RefundError as exc:
                    form.add_error(None, str(exc))
                else:
                    self.message_user(  # type: ignore[attr-defined]
                        request,
                        f"Refund of {format_money(refund.amount, refund.currency)} recorded for "
                        f"order {order.number}; the shopper is e-mailed.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(change_url)
            status = 400
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": f"Record a refund for order {order.number}",
            "order": order,
            "form": form,
            "change_url": change_url,
            "opts": Order._meta,
            "nothing_left": not form.refundables,
        }
        return TemplateResponse(request, "admin/orders/order/refund.html", context, status=status)
