"""Payment truth: the store finds out about payments by itself, with every webhook dropped.

The real store (daphne), the real task worker and the real banq emulator, over real sockets. banq
drops every webhook delivery (``drop_deliveries=1.0``) unless a test says otherwise.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from banq.client import get_banq_client
from banq.services import payment_link_generate
from orders.access import order_signed_url
from orders.models import Order, OrderEvent, OrderFlag
from orders.services import EndResult, order_cancel
from tests.factories import order_create, product_create
from tests.support.shopper import Shopper, next_status, open_socket
from tests.support.wait import receive_until, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def store(emulator_store, banq_emulator):
    banq_emulator.set_faults(drop_deliveries=1.0)
    return emulator_store


@pytest.fixture
def worker(emulator_worker):
    return emulator_worker


def _code(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _order_with_link(store, product_price: str = "19.90") -> tuple[Shopper, str, str]:
    shopper = Shopper(store.url)
    public_id, _ = shopper.place_order(product_create(price=product_price))
    link = shopper.payment_link(public_id)
    assert link.status_code == 200, link.text
    return shopper, public_id, link.json()["data"]["url"]


def _pay_in_widget(banq_emulator, url: str, origin: str) -> None:
    paid = requests.post(
        f"{banq_emulator.url}/link/{_code(url)}/pay",
        data={"email": "shopper@example.test", "password": "demo", "origin": origin},
        timeout=10,
    )
    assert paid.status_code == 200
    assert "successPayment" in paid.text


def _approve_in_app(banq_emulator, url: str) -> None:
    approved = requests.post(f"{banq_emulator.url}/app/approve/{_code(url)}", timeout=10)
    assert approved.status_code == 200


def _history(public_id: str) -> list[tuple[str, str]]:
    order = Order.objects.get(public_id=public_id)
    return list(order.history.values_list("kind", "source"))


def test_widget_path_is_confirmed_on_the_shoppers_word(store, banq_emulator):
    shopper, public_id, url = _order_with_link(store)
    _pay_in_widget(banq_emulator, url, store.url)

    # The page's first confirm after the widget's success already finds the payment at banq.
    answer = shopper.confirm(public_id)

    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["paid"], body["confirming"]) == ("paid", True, False)
    # The status JSON (as GET .../status), plus banq's verdict on this confirm and its meaning.
    assert body.pop("confirm") == {"result": "paid", "message": "Your payment is confirmed."}
    assert body == shopper.status(public_id)
    assert ("claim", "confirm") in _history(public_id)
    assert ("paid", "confirm") in _history(public_id)
    assert {d["status"] for d in banq_emulator.wait_for_deliveries(1)} == {"dropped"}


def test_confirm_is_for_the_owner_only_and_needs_csrf(store, banq_emulator):
    shopper, public_id, _ = _order_with_link(store)
    stranger = Shopper(store.url)
    stranger.http.get(store.url + "/", timeout=10)

    assert stranger.confirm(public_id).status_code == 404
    no_csrf = shopper.http.post(f"{store.url}/orders/{public_id}/confirm", timeout=10)
    assert no_csrf.status_code == 403
    assert no_csrf.json()["error"]["code"] == "csrf_failed"


def test_qr_path_is_found_by_the_sweep(store, worker, banq_emulator):
    shopper, public_id, url = _order_with_link(store)

    async def scenario() -> dict:
        async with open_socket(shopper, public_id) as ws:
            await next_status(ws, "awaiting_payment", timeout=5)
            _approve_in_app(banq_emulator, url)  # the widget hears nothing, the webhook is lost
            return await next_status(ws, "paid", timeout=60)

    pushed = asyncio.run(scenario())

    assert pushed["paid"] is True
    assert ("paid", "sweep") in _history(public_id)
    assert {d["status"] for d in banq_emulator.deliveries()} == {"dropped"}
    # The store fetched the token for the link; the worker's sweep used that same token.
    assert banq_emulator.state()["counts"]["tokens"] == 1


def test_expiry_after_a_dropped_webhook_records_the_payment(store, banq_emulator):
    shopper, public_id, url = _order_with_link(store)
    _approve_in_app(banq_emulator, url)
    banq_emulator.wait_for_deliveries(1)
    Order.objects.filter(public_id=public_id).update(
        created_at=timezone.now() - timezone.timedelta(hours=2)
    )

    out = StringIO()
    call_command("expire_orders", stdout=out)

    order = Order.objects.get(public_id=public_id)
    assert order.status == Order.Status.PAID
    assert "0 order(s) expired." in out.getvalue()
    page = shopper.http.get(f"{store.url}/orders/{public_id}/", timeout=10).text
    assert "Payment confirmed." in page
    assert "Nothing was charged" not in page.split('data-when="paid"', 1)[1].split("</div>")[0]


def test_a_merchant_cancelling_a_paid_order_finds_the_payment(store, banq_emulator):
    _, public_id, url = _order_with_link(store)
    _approve_in_app(banq_emulator, url)
    order = Order.objects.get(public_id=public_id)

    result = order_cancel(order=order, source=OrderEvent.Source.ADMIN, actor="merchant")

    assert result == EndResult.PAID
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_a_payment_after_cancellation_is_flagged_for_a_refund(store, worker, banq_emulator):
    shopper, public_id, url = _order_with_link(store)
    order = Order.objects.get(public_id=public_id)
    assert order_cancel(order=order, source="admin", actor="merchant") == EndResult.DONE

    async def scenario() -> dict:
        async with open_socket(shopper, public_id) as ws:
            await next_status(ws, "cancelled", timeout=5)
            _approve_in_app(banq_emulator, url)  # paid in an old tab, webhook lost
            return await receive_until(
                ws, lambda m: m.get("refund_due"), timeout=60, what="the refund_due push"
            )

    pushed = asyncio.run(scenario())

    assert pushed["status"] == "cancelled"
    assert pushed["states"] == ["refund_due"]
    order.refresh_from_db()
    assert order.refund_due
    assert order.flags.filter(kind=OrderFlag.Kind.REFUND_DUE).exists()
    page = shopper.http.get(f"{store.url}/orders/{public_id}/", timeout=10).text
    assert "it will be refunded" in page
    assert "Payment confirmed." not in _visible(page)


def _visible(page: str) -> str:
    """The page without the blocks it hides."""
    return re.sub(r"<(div|p)[^>]*\bhidden\b[^>]*>.*?</\1>", "", page, flags=re.S)


def test_a_failed_payment_the_store_did_not_create_leaves_the_order_payable(
    store, banq_emulator, emulator_settings
):
    banq_emulator.set_faults(drop_deliveries=0.0)
    shopper, public_id, url = _order_with_link(store)
    order = Order.objects.get(public_id=public_id)
    # Someone else's banq payment carrying our order code (or an orphan of a timed-out call).
    foreign = get_banq_client().create_payment_link(
        order_code=order.number, funds=Decimal("19.90"), comment="not ours"
    )
    banq_emulator.fail(foreign.payment_id, "InsufficientBalance")
    banq_emulator.wait_for_deliveries(2)

    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.flags.filter(kind=OrderFlag.Kind.UNKNOWN_PAYMENT).exists()
    # The shopper's own link is still the one offered.
    assert shopper.payment_link(public_id).json()["data"]["url"] == url


def test_dry_run_and_real_run_agree_on_a_mismatch(store, banq_emulator, emulator_settings):
    banq_emulator.set_faults(drop_deliveries=0.0)
    _, public_id, _ = _order_with_link(store)
    order = Order.objects.get(public_id=public_id)
    short = get_banq_client().create_payment_link(
        order_code=order.number, funds=Decimal("0.01"), comment="too little"
    )
    banq_emulator.complete(short.payment_id)
    banq_emulator.wait_for_deliveries(2)

    dry, real = StringIO(), StringIO()
    call_command("banq_reconcile", "--order", order.number, "--dry-run", stdout=dry)
    call_command("banq_reconcile", "--order", order.number, stdout=real)

    assert "would be rejected by verification (Amount mismatch" in dry.getvalue()
    assert ": rejected by verification (Amount mismatch" in real.getvalue()
    order.refresh_from_db()
    assert order.paid_at is None


def test_kill_9_during_a_burst_loses_no_e_mail_and_sends_none_twice(
    store,
    banq_emulator,
    emulator_settings,
    live_store_factory,
    live_worker_factory,
    emulator_store_env,
):
    mails = Path(tempfile.mkdtemp(prefix="truth-mails-"))
    email_env = {**emulator_store_env, "EMAIL_URL": f"filemail:///{mails}"}
    live_worker_factory({**email_env, "STOREFRONT_URL": store.url})
    banq_emulator.set_faults(drop_deliveries=0.0)
    orders = []
    for _ in range(30):
        order = order_create(total="5.00")
        attempt = payment_link_generate(order=order)
        orders.append((order, attempt))

    for n, (_, attempt) in enumerate(orders):
        banq_emulator.complete(attempt.banq_payment_id)
        if n == 12:
            store.kill()  # mid-burst: requests in flight are cut short
            store = live_store_factory(emulator_store_env, port=store.port)

    numbers = {order.number for order, _ in orders}
    paid_orders = Order.objects.filter(number__in=numbers, paid_at__isnull=False)

    def paid_and_mailed() -> bool:
        sent = _subjects(mails)
        paid = set(paid_orders.values_list("number", flat=True))
        return paid == numbers and all(sent.count(n) >= 1 for n in numbers)

    wait_for(
        paid_and_mailed,
        timeout=120,
        interval=0.2,
        what=lambda: f"{paid_orders.count()} paid, {len(set(_subjects(mails)))} e-mailed",
    )
    # Whatever the worker does next, nothing is sent again.
    for order, _ in orders:
        assert OrderEvent.objects.filter(order=order, kind="email").count() == 1
    sent = _subjects(mails)
    assert sorted(sent) == sorted(numbers)


def _subjects(mails: Path) -> list[str]:
    """The order number of every confirmation e-mail written so far."""
    found = []
    for path in mails.glob("*.log"):
        found += re.findall(r"payment received for order (\S+)", path.read_text(errors="replace"))
    return found


def test_signed_link_still_confirms(store, banq_emulator):
    """A shopper on another device (signed link, no session) can confirm too."""
    shopper, public_id, url = _order_with_link(store)
    order = Order.objects.get(public_id=public_id)
    other_device = Shopper(store.url)
    other_device.http.get(store.url + order_signed_url(order=order), timeout=10)
    _pay_in_widget(banq_emulator, url, store.url)

    assert other_device.confirm(public_id).json()["paid"] is True
