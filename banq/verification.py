"""The one check that a charge banq reports may pay our order: ``verify_charge``.

Both a one-time payment (``banq.settlement``) and an installment of a plan
(``banq.installments``) are checked here, in this order: the order code is the order's, the
amount is exactly what it must be (the order's total, or the plan's installment; a failed charge
carries no amount to check), the currency is the order's when banq names one (banq does not
document a currency: an amount without one is read as the store's), and the money went to our own
banq account (``BANQ_MERCHANT_GUID``). Pure apart from reading banq's settings.
"""

from __future__ import annotations

from banq.payloads import RemoteInstallment, RemotePayment
from banq.settings import banq_settings
from orders.models import Order, OrderFlag, Subscription
from orders.payments import Charge, ChargeProblem

Flag = OrderFlag.Kind


def verify_charge(*, order: Order, charge: Charge) -> ChargeProblem | None:
    """Why ``charge`` may not pay ``order`` (see the module doc), or None when it checks out."""
    named = f"banq {charge.what} {charge.reference}"
    if (charge.order_code or "") != order.number:
        return ChargeProblem(
            Flag.ORDER_CODE_MISMATCH,
            f"Order code mismatch: {named} is for {charge.order_code or 'no order'}, not "
            f"{order.number}.",
        )
    if charge.completed and (charge.amount is None or charge.amount != charge.expected_amount):
        expected = "the order total" if charge.what == "payment" else "the plan's installment"
        return ChargeProblem(
            Flag.AMOUNT_MISMATCH,
            f"Amount mismatch: {named} is "
            f"{charge.amount if charge.amount is not None else 'without an amount'}, "
            f"{expected} is {charge.expected_amount} {order.currency}.",
        )
    if charge.currency is not None and charge.currency != order.currency.upper():
        return ChargeProblem(
            Flag.AMOUNT_MISMATCH,
            f"Currency mismatch: {named} is in {charge.currency}, the order is in "
            f"{order.currency}.",
        )
    ours = banq_settings().merchant_guid.strip().lower()
    theirs = (charge.destination or "").strip().lower()
    if not ours or theirs != ours:
        return ChargeProblem(
            Flag.DESTINATION_MISMATCH,
            f"Foreign destination: {named} went to another banq account "
            f"({charge.destination or 'none'}), not BANQ_MERCHANT_GUID.",
        )
    return None


def payment_charge(*, order: Order, remote: RemotePayment) -> Charge:
    """A one-time payment (or a plan's first payment) as a charge of ``order``'s total."""
    return Charge(
        reference=remote.id,
        order_code=remote.external_order_code,
        amount=remote.funds,
        currency=remote.currency,
        destination=remote.destination_guid,
        expected_amount=order.total,
        completed=remote.is_completed,
        what="payment",
    )


def installment_charge(
    *, order: Order, subscription: Subscription, remote: RemotePayment, item: RemoteInstallment
) -> Charge:
    """One charge of a plan's payment, as a charge of the plan's installment amount. The order
    code must be the order's on the charge and on its payment (the charge's own wins when both
    are given and differ, so a mismatch names it)."""
    own = item.external_order_code or remote.external_order_code
    payment = remote.external_order_code or own
    code = own if own != order.number else payment
    return Charge(
        reference=item.guid or "(no id)",
        order_code=code,
        amount=item.funds,
        currency=item.currency or remote.currency,
        destination=remote.destination_guid,
        expected_amount=subscription.amount,
        completed=item.is_completed,
        what="transaction",
    )
