"""banq as the store's payment provider: ``BanqProvider`` implements ``orders.payments``'s
``PaymentProvider`` and registers itself in ``BanqConfig.ready``.

Each method hands over to the banq module that does the work: the link to ``banq.services``, the
look-ups before expiry and cancel to ``banq.services`` and ``banq.lookups``, the charge check to
``banq.verification``; the order page's pay block and its script are ``templates/banq/_pay.html``
and ``templates/banq/_pay_script.html`` (``static/banq/pay.js``).
- Refunds: banq documents no refund call. The merchant refunds in banq's dashboard and records it
  in the store; ``record_refund`` only says so (no reference: banq gave none). When banq offers a
  refund API, this is where it is called, and nothing in ``orders`` changes.
- Plans: ``stop_plan`` asks banq to stop charging the plan's recurring payment
  (``BanqClient.cancel_recurring_payment``). banq's recurring API is undocumented: the emulator
  models the call and ``manage.py banq_check`` reports whether real banq answers it. Whatever
  goes wrong (banq down, refusing, no such path) is an answer "not stopped" with the reason: the
  store then asks the merchant to stop the plan in banq's dashboard.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.template.loader import render_to_string
from django.urls import reverse

from banq.client import get_banq_client
from banq.exceptions import BanqError, BanqNotFound, BanqUnavailable
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
    PlanStopped,
    ProviderVerdict,
    RefundRecorded,
)

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

ORDER_PLACEHOLDER = "__order__"  # the page's script puts its order's id here
NO_REFUND_API = "banq has no refund API: refunded in banq's dashboard, recorded here"
DASHBOARD = "stop the plan's recurring payment in banq's dashboard, then confirm it here"


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

    def record_refund(self, *, order: Order, amount: Decimal, reason: str) -> RefundRecorded:
        return RefundRecorded(reference="", note=NO_REFUND_API)

    def stop_plan(self, *, subscription: Subscription) -> PlanStopped:
        order = subscription.order
        payment_id = order.payment_reference
        if not payment_id:
            return PlanStopped(False, f"The plan has no banq payment to stop: {DASHBOARD}.")
        try:
            get_banq_client().cancel_recurring_payment(payment_id)
        except BanqNotFound:
            logger.warning(
                "Order %s: banq does not offer stopping payment %s", order.public_id, payment_id
            )
            return PlanStopped(
                False,
                f"banq does not offer stopping payment {payment_id} through its API: {DASHBOARD}.",
            )
        except BanqUnavailable as exc:
            logger.warning(
                "Order %s: banq could not stop payment %s: %s", order.public_id, payment_id, exc
            )
            return PlanStopped(
                False, f"banq could not be reached to stop payment {payment_id}: {DASHBOARD}."
            )
        except BanqError as exc:
            logger.warning(
                "Order %s: banq refused to stop payment %s: %s", order.public_id, payment_id, exc
            )
            return PlanStopped(
                False, f"banq refused to stop payment {payment_id} ({exc}): {DASHBOARD}."
            )
        logger.info("Order %s: banq stopped payment %s", order.public_id, payment_id)
        return PlanStopped(True, f"banq stopped charging payment {payment_id}.")
