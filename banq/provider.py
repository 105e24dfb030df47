"""banq as the store's payment provider: ``BanqProvider`` implements ``orders.payments``'s
``PaymentProvider`` and registers itself in ``BanqConfig.ready``.

Each method hands over to the banq module that does the work: the link to ``banq.services``, the
look-ups before expiry and cancel to ``banq.services`` and ``banq.lookups``, the charge check to
``banq.verification``; the order page's pay block and its script are ``templates/banq/_pay.html``
and ``templates/banq/_pay_script.html`` (``static/banq/pay.js``). banq offers the store no refund
or plan-cancellation call (docs/banq-api.md): a refund is recorded for the merchant to make in
banq, and stopping a plan answers ``PlanStop.NOT_OFFERED``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.template.loader import render_to_string
from django.urls import reverse

from banq.services import (
    order_payments_answered_by_banq,
    order_payments_check_with_banq,
    payment_link_generate,
)
from banq.settings import banq_settings
from banq.verification import verify_charge
from orders.models import Order, Subscription
from orders.notifications import order_page_states
from orders.payments import (
    Charge,
    ChargeProblem,
    PageUrls,
    PaymentLink,
    PlanStop,
    ProviderVerdict,
    RefundRecord,
)

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

ORDER_PLACEHOLDER = "__order__"  # the page's script puts its order's id here


class BanqProvider:
    name = "banq"
    label = "banq"

    def create_link(self, *, order: Order) -> PaymentLink:
        """``banq.services.payment_link_generate``: reused or created at banq; raises its errors."""
        attempt = payment_link_generate(order=order)
        return PaymentLink(url=attempt.url, reference=attempt.banq_payment_id)

    def check(self, *, order: Order, source: str, since: datetime) -> ProviderVerdict:
        return order_payments_check_with_banq(order=order, source=source, since=since)

    def answered(self, *, order: Order, since: datetime) -> bool:
        return order_payments_answered_by_banq(order=order, since=since)

    def verify_charge(self, *, order: Order, charge: Charge) -> ChargeProblem | None:
        return verify_charge(order=order, charge=charge)

    def page_urls(self, *, order: Order) -> PageUrls:
        return PageUrls(
            link=reverse("banq:generate-payment-link"),
            confirm=reverse("banq:order-confirm", kwargs={"public_id": ORDER_PLACEHOLDER}),
        )

    def render_pay_block(self, *, request: HttpRequest, order: Order, payable: bool) -> str:
        context = {"order": order, "states": order_page_states(order, payable=payable)}
        return render_to_string("banq/_pay.html", context, request=request)

    def render_pay_script(self, *, request: HttpRequest, order: Order, payable: bool) -> str:
        context = {"payable": payable, "widget_url": banq_settings().widget_url}
        return render_to_string("banq/_pay_script.html", context, request=request)

    def record_refund(self, *, order: Order, amount: Decimal, reason: str) -> RefundRecord:
        """banq has no refund call: nothing moves at banq; the merchant sends the money back from
        the banq merchant account. Writes nothing (the caller keeps its own record)."""
        logger.info(
            "Order %s: refund of %s %s recorded; banq has no refund call, the merchant makes it",
            order.public_id,
            amount,
            order.currency,
        )
        return RefundRecord(
            provider=self.name,
            amount=amount,
            refunded_by_provider=False,
            message=(
                f"banq has no refund call: send {amount} {order.currency} back to the shopper "
                f"from the banq merchant account (payment {order.payment_reference or '-'})."
            ),
        )

    def stop_plan(self, *, subscription: Subscription) -> PlanStop:
        """banq documents no call that stops a recurring payment: the merchant stops it in banq."""
        return PlanStop.NOT_OFFERED
