"""banq as the store's payment provider, for what comes after a payment: refunds and stopping a
cancelled plan (``orders.payments.PaymentProvider``). Registered in ``BanqConfig.ready``.

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
from decimal import Decimal

from banq.client import get_banq_client
from banq.exceptions import BanqError, BanqNotFound, BanqUnavailable
from orders.models import Order, Subscription
from orders.payments import PlanStopped, RefundRecorded

logger = logging.getLogger(__name__)

NO_REFUND_API = "banq has no refund API: refunded in banq's dashboard, recorded here"
DASHBOARD = "stop the plan's recurring payment in banq's dashboard, then confirm it here"


class BanqProvider:
    name = "banq"

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
