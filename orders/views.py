"""Shop pages: catalog, product, cart (add/update/remove), checkout and the order page.

Views parse input, call one service and pick a response. HTML forms get the problem on the page
(status 400); JSON callers get ``{"error": {"code", "message"}}`` with 400. Prices and totals are
never read from a request.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import ListView

from orders import selectors, services
from orders.access import (
    ACCESS_PARAM,
    order_access_key,
    order_get_accessible,
    order_signed_url,
    session_grant_order,
)
from orders.exceptions import CartEmpty, CartError, OrderError, PlanCancelError
from orders.forms import POSTED_FIELDS, CheckoutForm
from orders.inputs import ascii_digits
from orders.models import OrderEvent, Product
from orders.notifications import order_page_states, order_status_display, order_status_payload
from orders.payments import provider_for
from orders.plans import plan_payload
from orders.services import EndResult
from orders.services.cancellation import subscription_cancel
from storefront.http import JsonView, json_error, wants_json

logger = logging.getLogger(__name__)


class BadInput(Exception):
    def __init__(self, message: str, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.code = code


def _session_key(request: HttpRequest, *, create: bool = False) -> str | None:
    if request.session.session_key is None and create:
        request.session.save()
    return request.session.session_key


def _request_data(request: HttpRequest) -> dict[str, Any]:
    """Form fields, or the JSON object of a JSON body."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadInput("The request body is not valid JSON.", "invalid_json") from exc
        if not isinstance(data, dict):
            raise BadInput("The request body must be a JSON object.", "invalid_json")
        return data
    return request.POST.dict()


def _product_reference(data: dict[str, Any]) -> Any:
    for name in ("product", "product_id", "slug"):
        if data.get(name) not in (None, ""):
            return data[name]
    return None


def _cart_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    cart = services.cart_get_for_session(session_key=request.session.session_key)
    summary = selectors.cart_summary(cart=cart)
    return {"summary": summary, "max_quantity": settings.CART_MAX_QUANTITY, **extra}


def _problem(
    request: HttpRequest,
    message: str,
    *,
    code: str = "invalid_request",
    status: int = 400,
    product: Product | None = None,
) -> HttpResponse:
    """The same problem, told the way the caller can read it."""
    if wants_json(request):
        return json_error(code, message, status)
    if product is not None and product.is_active:
        context = {"product": product, "max_quantity": settings.CART_MAX_QUANTITY, "error": message}
        return render(request, "orders/product_detail.html", context, status=status)
    return render(request, "orders/cart.html", _cart_context(request, error=message), status=status)


def _error_code(exc: OrderError) -> str:
    return {
        "InvalidQuantity": "invalid_quantity",
        "ProductUnavailable": "product_unavailable",
        "OutOfStock": "out_of_stock",
        "CartEmpty": "cart_empty",
        "MixedCart": "mixed_cart",
        "CheckoutError": "invalid_checkout",
    }.get(type(exc).__name__, "order_error")


class CatalogView(ListView):
    template_name = "orders/catalog.html"
    context_object_name = "products"

    def get_queryset(self):
        return selectors.product_list_active()


class ProductDetailView(View):
    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        try:
            product = selectors.product_get_active(slug=slug)
        except Product.DoesNotExist as exc:
            raise Http404("No such product") from exc
        context = {"product": product, "max_quantity": settings.CART_MAX_QUANTITY}
        return render(request, "orders/product_detail.html", context)


class CartView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        if wants_json(request):
            return JsonResponse({"data": {"cart": _cart_context(request)["summary"].as_dict()}})
        return render(request, "orders/cart.html", _cart_context(request))


class _CartChangeView(View):
    """Shared POST handling: parse, call the service, answer in HTML or JSON."""

    success_message = "Your cart was updated."

    def post(self, request: HttpRequest) -> HttpResponse:
        product: Product | None = None
        try:
            data = _request_data(request)
            product = self.find_product(data)
            self.change(request, data, product)
        except BadInput as exc:
            return _problem(request, str(exc), code=exc.code, product=product)
        except CartError as exc:
            return _problem(request, str(exc), code=_error_code(exc), product=product)
        if wants_json(request):
            return JsonResponse({"data": {"cart": _cart_context(request)["summary"].as_dict()}})
        messages.success(request, self.message(product))
        return redirect("orders:cart")

    def find_product(self, data: dict[str, Any]) -> Product | None:
        reference = _product_reference(data)
        product = selectors.product_get_by_reference(reference=reference)
        if product is None and "item" not in data:
            raise BadInput("That product is not available.", "product_unavailable")
        return product

    def change(self, request: HttpRequest, data: dict[str, Any], product: Product | None) -> None:
        raise NotImplementedError

    def message(self, product: Product | None) -> str:
        return self.success_message

    @staticmethod
    def item_reference(data: dict[str, Any]) -> int | None:
        value = str(data.get("item", "")).strip()
        if value and not ascii_digits(value):
            raise BadInput("That item is not in your cart.", "product_unavailable")
        return int(value) if value else None


class CartAddView(_CartChangeView):
    def find_product(self, data: dict[str, Any]) -> Product | None:
        product = selectors.product_get_active_by_reference(reference=_product_reference(data))
        if product is None:
            raise BadInput("That product is not available.", "product_unavailable")
        return product

    def change(self, request: HttpRequest, data: dict[str, Any], product: Product | None) -> None:
        quantity = services.quantity_parse(data.get("quantity", 1))
        cart = services.cart_get_for_session(
            session_key=_session_key(request, create=True), create=True
        )
        if cart is None or product is None:  # pragma: no cover - both were just ensured
            raise BadInput("That product is not available.", "product_unavailable")
        services.cart_add_item(cart=cart, product=product, quantity=quantity)

    def message(self, product: Product | None) -> str:
        return f"{product.name} was added to your cart." if product else self.success_message


class CartUpdateView(_CartChangeView):
    def change(self, request: HttpRequest, data: dict[str, Any], product: Product | None) -> None:
        if "quantity" not in data:
            raise BadInput(
                f"Please choose a quantity between 0 and {settings.CART_MAX_QUANTITY}.",
                "invalid_quantity",
            )
        quantity = services.quantity_parse(data["quantity"], allow_zero=True)
        item = self.item_reference(data)
        cart = services.cart_get_for_session(session_key=request.session.session_key)
        if cart is None:
            raise BadInput("That item is not in your cart.", "product_unavailable")
        services.cart_set_quantity(
            cart=cart, quantity=quantity, product=None if item else product, item=item
        )


class CartRemoveView(_CartChangeView):
    success_message = "The item was removed from your cart."

    def change(self, request: HttpRequest, data: dict[str, Any], product: Product | None) -> None:
        item = self.item_reference(data)
        cart = services.cart_get_for_session(session_key=request.session.session_key)
        if cart is not None:
            services.cart_remove_item(cart=cart, product=None if item else product, item=item)


# Pages holding a shopper's name and e-mail are never stored by a browser or a proxy (never_cache:
# Cache-Control no-store, private); the status JSON says no-store itself (order_status_response).
@method_decorator(never_cache, name="dispatch")
class CheckoutView(View):
    template_name = "orders/checkout.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        context = _cart_context(request)
        context["form"] = _checkout_form(context["summary"])
        return render(request, self.template_name, context)

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            data = _request_data(request)
        except BadInput as exc:
            return _problem(request, str(exc), code=exc.code)
        cart = services.cart_get_for_session(session_key=request.session.session_key)
        summary = selectors.cart_summary(cart=cart)
        form = _checkout_form(summary, _checkout_data(data))
        if cart is None or summary.is_empty:
            return self.refuse(request, form, CartEmpty("Your cart is empty: add something first."))
        if not form.is_valid():
            if wants_json(request):
                errors = next(iter(form.errors.values()))
                return json_error("invalid_checkout", str(errors[0]), 400)
            return self.refuse(request, form, None)
        try:
            order = services.order_create_from_cart(
                cart=cart,
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                session_key=request.session.session_key or "",
                shipping=form.shipping,
                shipping_method=form.cleaned_data.get("shipping_method"),
            )
        except OrderError as exc:
            return self.refuse(request, form, exc)
        session_grant_order(session=request.session, order=order)
        if wants_json(request):
            return JsonResponse(
                {
                    "data": {
                        "order": str(order.public_id),
                        "number": order.number,
                        "subtotal": str(order.subtotal),
                        "shipping": str(order.shipping_price),
                        "total": str(order.total),
                        "currency": order.currency,
                        "status": order.status,
                        "url": order_signed_url(order=order),
                    }
                },
                status=201,
            )
        messages.success(request, f"Thank you! Your order {order.number} was placed.")
        return redirect(order.get_absolute_url())

    def refuse(
        self, request: HttpRequest, form: CheckoutForm, exc: OrderError | None
    ) -> HttpResponse:
        if exc is not None and wants_json(request):
            return json_error(_error_code(exc), str(exc), 400)
        context = _cart_context(request, form=form, error=str(exc) if exc else None)
        return render(request, self.template_name, context, status=400)


def _checkout_data(data: dict[str, Any]) -> dict[str, str]:
    """Only the shopper's details, address and method are read; anything else posted (a price,
    a total, a shipping price) is ignored. A JSON caller may nest the address as
    ``"shipping_address": {...}`` with the same names."""
    nested = data.get("shipping_address")
    if isinstance(nested, dict):
        data = {**data, **nested}
    return {name: data[name] for name in POSTED_FIELDS if data.get(name) is not None}


def _checkout_form(summary, data: dict[str, str] | None = None) -> CheckoutForm:
    """The checkout form for this cart: with the address and the shipping methods when it holds
    goods that ship."""
    ships = summary.ships
    methods = list(services.shipping_methods_available(currency=summary.currency)) if ships else []
    return CheckoutForm(data, ships=ships, methods=methods, currency=summary.currency)


@method_decorator(never_cache, name="dispatch")
class OrderDetailView(View):
    """The order page: for the session that placed the order, or with the signed link.

    Strangers, malformed ids and unknown ids get the same 404.
    """

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        key = request.GET.get(ACCESS_PARAM)
        order = order_get_accessible(
            session=request.session, public_id=public_id, key=key, grant=True
        )
        if order is None:
            raise Http404("No such order")
        order_expire_on_sight(order)
        payable = services.order_is_payable(order=order)
        plan, installments = plan_payload(order)
        cancellable = order.paid_at is None and order.status in services.CANCELLABLE
        provider = provider_for(order)
        context = {
            "order": order,
            "status_display": order_status_display(order),
            "states": order_page_states(order, payable=payable),
            "items": list(order.items.all()),
            "signed_url": request.build_absolute_uri(order_signed_url(order=order)),
            "access_key": order_access_key(order=order),
            "status_url": reverse("orders:order-status", kwargs={"public_id": order.public_id}),
            "ws_path": f"/ws/orders/{order.public_id}/",
            "payable": payable,
            "cancellable": cancellable,
            "plan": plan,
            "installments": installments,
            # The provider's part of the page (orders.payments): its name, the URLs its script
            # calls, its pay block and its script.
            "provider_label": provider.label,
            "pay_urls": provider.page_urls(order=order),
            "pay_block": provider.render_pay_block(request=request, order=order, payable=payable),
            "pay_script": provider.render_pay_script(request=request, order=order, payable=payable),
            "plan_cancellable": bool(plan and plan["state"] == "active"),
            "refunds": list(order.refunds.select_related("installment"))
            if order.refunded_total
            else [],
        }
        return render(request, "orders/order_detail.html", context)


class OrderStatusView(JsonView):
    """``GET /orders/<public_id>/status``: the order's status as JSON, for the page's polling.

    Same access rule as the order page (owner session or signed ``?key=``); anyone else gets the
    same 404 as for an unknown order. Never cached.
    """

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        key = request.GET.get(ACCESS_PARAM)
        order = order_get_accessible(session=request.session, public_id=public_id, key=key)
        if order is None:
            return json_error("not_found", "There is no such order.", 404)
        order_expire_on_sight(order)
        return order_status_response(order)


@method_decorator(never_cache, name="dispatch")
class OrderCancelView(View):
    """``POST /orders/<public_id>/cancel``: the shopper cancels an order that is not paid, after
    the confirmation step on the order page. Same access rule as the order page (owner session or
    signed ``?key=``; anyone else gets the same 404 as for an unknown order) and CSRF-protected.

    The view parses and answers; ``order_cancel`` decides: the payment provider is asked first, a
    completed payment wins (the order is paid instead), and while the provider can't be asked
    nothing changes. A form gets a redirect to the order page with a message; a JSON caller gets
    the status JSON with ``cancel`` (``{"result", "message"}``): 200 when cancelled, else 409.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        key = request.GET.get(ACCESS_PARAM) or request.POST.get(ACCESS_PARAM) or None
        order = order_get_accessible(session=request.session, public_id=public_id, key=key)
        if order is None:
            if wants_json(request):
                return json_error("not_found", "There is no such order.", 404)
            raise Http404("No such order")
        result = services.order_cancel(order=order, source=OrderEvent.Source.SHOPPER)
        outcome, text, level = _cancel_said(order=order, result=result)
        if wants_json(request):
            payload = {
                **order_status_payload(order),
                "cancel": {"result": outcome, "message": text},
            }
            return JsonResponse(payload, status=200 if result == EndResult.DONE else 409)
        messages.add_message(request, level, text)
        return redirect(order_signed_url(order=order) if key else order.get_absolute_url())


class PlanCancelView(View):
    """``POST /orders/<public_id>/cancel-plan``: the shopper cancels the order's recurring plan,
    after the confirmation step on the order page. Same access rule as the order page (owner
    session or signed ``?key=``; anyone else gets the same 404 as for an unknown order) and
    CSRF-protected.

    ``subscription_cancel`` decides; nothing more is charged for the plan, and the payment
    provider is asked to stop charging it (if it can't, the merchant is asked to). A form gets a
    redirect to the order page with a message; a JSON caller gets the status JSON with
    ``plan_cancel`` (``{"result", "message"}``): 200 when cancelled, 409 when the plan can't be.
    """

    http_method_names = ["post"]

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        key = request.GET.get(ACCESS_PARAM) or request.POST.get(ACCESS_PARAM) or None
        order = order_get_accessible(session=request.session, public_id=public_id, key=key)
        if order is None:
            if wants_json(request):
                return json_error("not_found", "There is no such order.", 404)
            raise Http404("No such order")
        try:
            subscription_cancel(order=order, source=OrderEvent.Source.SHOPPER)
        except PlanCancelError as exc:
            result, text, level, status = "not_allowed", str(exc), messages.ERROR, 409
        else:
            result, level, status = "cancelled", messages.SUCCESS, 200
            text = (
                "Your plan is cancelled: no further payments will be taken. If one is taken "
                "anyway, it will be refunded to you. We have sent you an e-mail."
            )
        if wants_json(request):
            order.refresh_from_db()
            payload = {
                **order_status_payload(order),
                "plan_cancel": {"result": result, "message": text},
            }
            return JsonResponse(payload, status=status)
        messages.add_message(request, level, text)
        return redirect(order_signed_url(order=order) if key else order.get_absolute_url())


def _cancel_said(*, order, result: str) -> tuple[str, str, int]:
    """``(outcome, message for the shopper, message level)`` for ``order_cancel``'s ``result``;
    the outcome splits "could not ask" into ``unreachable`` and ``unknown``."""
    label = provider_for(order).label
    if result == EndResult.DONE:
        return (
            result,
            f"Your order {order.number} was cancelled. Nothing was charged.",
            messages.SUCCESS,
        )
    if result == EndResult.PAID:
        text = (
            f"Your order was not cancelled: {label} says your payment went through, so it is paid."
        )
        return result, text, messages.WARNING
    if result == EndResult.NOT_ALLOWED:
        return result, "This order can no longer be cancelled.", messages.ERROR
    if order.provider_unreachable_since is not None:
        text = (
            f"Your order was not cancelled: {label} can't be reached right now, and we cancel "
            f"only once {label} confirms that nothing was charged. Please try again in a few "
            "minutes."
        )
        return "unreachable", text, messages.ERROR
    text = (
        f"Your order was not cancelled yet: we are still confirming with {label} whether a "
        "payment went through. Please try again in a moment."
    )
    return result, text, messages.ERROR


def order_status_response(order) -> JsonResponse:
    """The order's status JSON (``GET /orders/<id>/status`` and the answers that mirror it)."""
    response = JsonResponse(order_status_payload(order))
    response["Cache-Control"] = "no-store"
    return response


def order_expire_on_sight(order) -> None:
    """A page opened past the order's payment time expires it, so it tells the truth before the
    worker's next round; the payment provider is asked first (a completed payment wins, and if it
    can't be asked the order stays as it is)."""
    if services.order_is_stale(order=order):
        services.order_expire(order=order, source=OrderEvent.Source.PAGE)
