"""The payment-provider seam (orders.payments): a second provider plugs in without orders naming
it, and an order pays through it; banq is one provider among others."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import format_html

from orders.access import session_grant_order
from orders.models import Order, OrderEvent, OrderFlag, Subscription
from orders.payments import (
    Charge,
    ChargeProblem,
    PageUrls,
    PaymentLink,
    PaymentProvider,
    PlanStopped,
    ProviderVerdict,
    RefundRecorded,
    order_payments_check,
    payment_provider_register,
    payment_provider_unregister,
    provider_for,
)
from orders.services import order_cancel, order_mark_paid
from tests.factories import order_create

pytestmark = pytest.mark.django_db


class Fakepay:
    """A second provider, as small as the protocol allows: links are made up, and a test plays
    its webhook (``deliver``), which verifies the charge and pays the order."""

    name = "fakepay"
    label = "Fakepay"

    def __init__(self) -> None:
        self.completed: dict[str, Charge] = {}  # reference -> the charge the provider holds
        self.asked: list[str] = []

    def create_link(self, *, order: Order) -> PaymentLink:
        return PaymentLink(
            url=f"https://fakepay.example/pay/{order.number}", reference=order.number
        )

    def check(self, *, order: Order, source: str, since: datetime) -> ProviderVerdict:
        self.asked.append(order.number)
        charge = self.completed.get(order.number)
        if charge is not None and self.deliver(order=order, charge=charge):
            return ProviderVerdict.PAID
        return ProviderVerdict.CLEAR

    def answered(self, *, order: Order, since: datetime) -> bool:
        return order.number not in self.completed

    def verify_charge(self, *, order: Order, charge: Charge) -> ChargeProblem | None:
        if charge.order_code != order.number:
            return ChargeProblem(OrderFlag.Kind.ORDER_CODE_MISMATCH, "Not this order.")
        if charge.amount != order.total or charge.currency != order.currency:
            return ChargeProblem(OrderFlag.Kind.AMOUNT_MISMATCH, "Not the order's amount.")
        return None

    def page_urls(self, *, order: Order) -> PageUrls:
        return PageUrls(link="/fakepay/link", confirm="/fakepay/__order__/confirm")

    def render_pay_block(self, *, request, order: Order, payable: bool) -> str:
        return format_html('<div id="pay-with-fakepay">Pay {} with Fakepay</div>', order.total)

    def render_pay_script(self, *, request, order: Order, payable: bool) -> str:
        return format_html(
            '<script src="/static/fakepay/pay.js" nonce="{}"></script>', request.csp_nonce
        )

    def record_refund(self, *, order: Order, amount: Decimal, reason: str) -> RefundRecorded:
        return RefundRecorded(reference=f"fake-refund-{order.number}", note="Refunded by fakepay.")

    def stop_plan(self, *, subscription: Subscription) -> PlanStopped:
        return PlanStopped(True, "fakepay stopped the plan.")

    def deliver(self, *, order: Order, charge: Charge) -> bool:
        """The provider's webhook: verified, then the one way into paid."""
        if self.verify_charge(order=order, charge=charge) is not None:
            return False
        _, changed = order_mark_paid(
            order=order, payment_reference=charge.reference, source=OrderEvent.Source.WEBHOOK
        )
        return changed


@pytest.fixture
def fakepay(settings):
    provider = Fakepay()
    payment_provider_register(provider)
    settings.PAYMENT_PROVIDER = provider.name
    yield provider
    payment_provider_unregister(provider.name)


def charge_for(order: Order, **changes) -> Charge:
    fields = {
        "reference": f"fp-{order.number}",
        "order_code": order.number,
        "amount": order.total,
        "currency": order.currency,
        "destination": None,
        "expected_amount": order.total,
    }
    return Charge(**{**fields, **changes})


def owner_client(order: Order) -> Client:
    client = Client()
    session = client.session
    session_grant_order(session=session, order=order)
    session.save()
    return client


def test_the_order_page_shows_the_store_s_provider_and_nothing_of_banq(fakepay):
    order = order_create(status=Order.Status.PENDING, total="12.50")

    html = owner_client(order).get(order.get_absolute_url()).content.decode()

    assert provider_for(order) is fakepay
    assert '<div id="pay-with-fakepay">Pay 12.50 with Fakepay</div>' in html
    assert '<script src="/static/fakepay/pay.js" nonce="' in html
    assert 'data-link-url="/fakepay/link"' in html
    assert 'data-confirm-url="/fakepay/__order__/confirm"' in html
    assert "banq" not in html.split('<section class="payment"')[1].split("</section>")[0]


def test_an_order_pays_through_the_second_provider(fakepay):
    order = order_create(status=Order.Status.PENDING, total="12.50")
    link = provider_for(order).create_link(order=order)

    paid = fakepay.deliver(order=order, charge=charge_for(order))

    order.refresh_from_db()
    assert link.url == f"https://fakepay.example/pay/{order.number}"
    assert paid
    assert (order.status, order.payment_reference) == (Order.Status.PAID, f"fp-{order.number}")
    html = owner_client(order).get(order.get_absolute_url()).content.decode()
    assert "Payment confirmed." in html
    assert "Fakepay payment reference" in html
    status = owner_client(order).get(f"/orders/{order.public_id}/status").json()
    assert (status["paid"], status["fakepay_reachable"], status["provider_reachable"]) == (
        True,
        True,
        True,
    )


@pytest.mark.parametrize(
    "changes", [{"currency": "EUR"}, {"amount": Decimal("1.00")}, {"order_code": "SF-OTHER"}]
)
def test_a_charge_the_second_provider_does_not_verify_leaves_the_order_unpaid(fakepay, changes):
    order = order_create(status=Order.Status.AWAITING_PAYMENT, total="12.50")

    paid = fakepay.deliver(order=order, charge=charge_for(order, **changes))

    order.refresh_from_db()
    assert not paid
    assert order.paid_at is None


def test_before_a_cancel_every_provider_is_asked_and_a_completed_payment_wins(fakepay):
    order = order_create(status=Order.Status.AWAITING_PAYMENT, total="12.50")
    fakepay.completed[order.number] = charge_for(order)

    verdict = order_payments_check(
        order=order, source=OrderEvent.Source.ADMIN, since=timezone.now()
    )

    order.refresh_from_db()
    assert verdict == ProviderVerdict.PAID
    assert fakepay.asked == [order.number]
    assert order.status == Order.Status.PAID
    assert order_cancel(order=order, source=OrderEvent.Source.ADMIN) == "not_allowed"


def test_an_order_the_second_provider_knows_nothing_of_is_cancelled(fakepay):
    order = order_create(status=Order.Status.PENDING, total="12.50")

    result = order_cancel(order=order, source=OrderEvent.Source.ADMIN)

    order.refresh_from_db()
    assert result == "done"
    assert order.status == Order.Status.CANCELLED
    assert fakepay.asked == [order.number]


def test_a_provider_that_misses_part_of_the_protocol_is_refused():
    class Half:
        name = "half"
        label = "Half"

        def create_link(self, *, order):
            return PaymentLink(url="https://half.example/")

    with pytest.raises(TypeError, match="PaymentProvider"):
        payment_provider_register(Half())


def test_banq_is_the_default_provider_and_keeps_the_whole_protocol():
    order = order_create(status=Order.Status.PAID, total="19.90")
    banq = provider_for(order)

    record = banq.record_refund(order=order, amount=Decimal("19.90"), reason="Shopper asked")

    assert isinstance(banq, PaymentProvider)
    assert (banq.name, banq.label) == ("banq", "banq")
    assert record.reference == ""  # banq made no refund: it has no refund call
    assert "banq's dashboard" in record.note
    problem = banq.verify_charge(order=order, charge=charge_for(order, currency="EUR"))
    assert problem is not None
    assert problem.flag == OrderFlag.Kind.AMOUNT_MISMATCH
