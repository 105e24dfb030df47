"""CSV exports from the admin's order list (``orders.exports`` has the columns and the stream).

The order list links to ``export/orders.csv``, ``export/installments.csv`` and
``export/refunds.csv`` with its own query string: the export builds the same ``ChangeList`` as the
page, so it holds exactly the orders the list shows (its filters, date drill-down and search),
every page of them, and the installments and refunds of those orders. The action "Export
selected orders to CSV" exports the ticked orders (or all of the list's orders, when "select all"
is used). Either way the queryset stays lazy: rows are read a chunk at a time while the response
streams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.db.models import Model, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.urls import path, reverse
from django.utils import timezone

from orders.exports import EXPORTS, ORDERS, Export, csv_stream, csv_stream_async
from orders.models import Installment, Order


def csv_response(
    *, request: HttpRequest, export: Export, queryset: QuerySet
) -> StreamingHttpResponse:
    """A streamed CSV download of ``queryset``: served chunk by chunk from a worker thread under
    ASGI (the store), from the request's thread under WSGI (and the test client)."""
    stream: Iterator[str] | AsyncIterator[str]
    if isinstance(request, ASGIRequest):
        stream = csv_stream_async(export, queryset)
    else:
        stream = csv_stream(export, queryset)
    response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{export.name}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"  # names, e-mails and addresses
    return response


def rows_for(*, model: type[Model], orders: QuerySet[Order]) -> QuerySet:
    """The rows of ``model`` that belong to ``orders`` (the orders themselves, their
    installments, their refunds)."""
    if model is Order:
        return orders
    if model is Installment:
        return Installment.objects.filter(subscription__order__in=orders.values("pk"))
    return model._default_manager.filter(order__in=orders.values("pk"))


class OrderExportMixin:
    """For ``OrderAdmin``: the export URLs, their view and the export action."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.export_view)  # type: ignore[attr-defined]
        return [
            path("export/<slug:name>.csv", view, name="orders_order_export"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def export_view(self, request: HttpRequest, name: str) -> HttpResponseBase:
        """``name`` (orders, installments, refunds) of the orders the list shows for this query
        string. An unknown filter goes back to the list with its error, as the list does."""
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        if name not in EXPORTS:
            raise Http404(f"No export named {name!r}.")
        export = EXPORTS[name]
        try:
            changelist = self.get_changelist_instance(request)  # type: ignore[attr-defined]
        except IncorrectLookupParameters:
            return HttpResponseRedirect(
                f"{reverse('admin:orders_order_changelist')}?{ERROR_FLAG}=1"
            )
        orders = changelist.get_queryset(request)
        return csv_response(
            request=request, export=export, queryset=rows_for(model=export.model, orders=orders)
        )

    @admin.action(description="Export selected orders to CSV", permissions=["view"])
    def export_orders_csv(
        self, request: HttpRequest, queryset: QuerySet[Order]
    ) -> StreamingHttpResponse:
        return csv_response(request=request, export=ORDERS, queryset=queryset)
