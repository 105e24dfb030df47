"""Unknown is not unpaid (issue 21): while banq can't answer, nothing is cancelled or expired.

Against the real banq emulator and its faults. Each time banq holds a completed payment whose
webhook was lost; then banq can't be reached, is slow (2.5 s) or errors while the store changes
the order on banq's word, twice within the look-up interval: expiry (the worker's task and the
command), cancel (admin, command, shopper), the shopper's confirm, the sweep, banq_reconcile,
the admin's re-check and the installments sweep. The order ends paid, never cancelled, expired
or failed, and the shopper is never shown a refund or an expiry (status JSON and page); while
banq can't be reached the shopper's page, the status JSON and the admin say so.

First the issue's reproductions as it reported them, then the whole family. The operator's and
the worker's paths run in this process (the admin through Django's test client, the commands and
tasks as the worker runs them); the shopper's paths go through a live store over HTTP.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from banq.models import BanqPayment
from banq.overdue import installments_sweep
from banq.services import payment_link_generate
from banq.tasks import banq_sweep
from orders.access import order_signed_url
from orders.models import Installment, Order, OrderEvent, Subscription
from orders.periodic import orders_expire
from orders.services import EndResult, order_cancel
from tests.admin.conftest import ORDERS_URL, messages_of
from tests.commands.conftest import run_command
from tests.factories import order_create, product_create, recurring_order_create
from tests.support.shopper import Shopper

pytestmark = pytest.mark.integration

ERRORING = {"error_rate": 1.0, "error_routes": ["get-payment", "get-transaction"]}


def _paid_at_banq(banq_emulator, **order) -> tuple[Order, BanqPayment]:
    """An order whose payment banq completed; its webhook was lost (no store is registered at
    banq, and every delivery is dropped)."""
    banq_emulator.set_faults(drop_deliveries=1.0)
    order = order_create(**order)
    attempt = payment_link_generate(order=order)
    banq_emulator.complete(attempt.banq_payment_id)
    return order, attempt


def _never_ended(order: Order) -> None:
    """The order was never cancelled, expired or failed, and nobody was told of a refund."""
    ended = OrderEvent.objects.filter(
        order=order, to_status__in=[Order.Status.CANCELLED, Order.Status.EXPIRED, "failed"]
    )
    assert list(ended.values_list("to_status", "source")) == []
    assert not OrderEvent.objects.filter(
        order=order, kind=OrderEvent.Kind.EMAIL, data__email="refund_due"
    ).exists()


@pytest.mark.django_db
def test_admin_cancel_twice_while_banq_errors_never_cancels_a_paid_order(
    emulator_settings, banq_emulator, admin_client
):
    order, _ = _paid_at_banq(banq_emulator)
    banq_emulator.set_faults(**ERRORING)

    told = []
    for _ in range(2):  # the second within the look-up interval of the first
        answer = admin_client.post(
            ORDERS_URL,
            {"action": "cancel_orders", "_selected_action": [order.pk]},
            follow=True,
        )
        order.refresh_from_db()
        assert order.status == Order.Status.AWAITING_PAYMENT
        told.append(" ".join(messages_of(answer)))
    assert all("banq can't be reached right now" in text for text in told), told

    banq_emulator.set_faults(error_rate=0.0)
    answer = admin_client.post(
        ORDERS_URL, {"action": "cancel_orders", "_selected_action": [order.pk]}, follow=True
    )

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert "a completed payment was found" in " ".join(messages_of(answer))
    _never_ended(order)


@pytest.mark.django_db
def test_expiry_twice_while_banq_errors_never_expires_a_paid_order(
    emulator_settings, banq_emulator
):
    order, _ = _paid_at_banq(banq_emulator)
    Order.objects.filter(pk=order.pk).update(
        created_at=timezone.now() - timezone.timedelta(hours=2)
    )
    banq_emulator.set_faults(**ERRORING)

    told = []
    for _ in range(2):
        out = StringIO()
        call_command("expire_orders", stdout=out)
        order.refresh_from_db()
        assert order.status == Order.Status.AWAITING_PAYMENT
        told.append(out.getvalue())
    assert all("0 order(s) expired." in text for text in told), told
    assert all("banq can't be reached right now" in text for text in told), told

    banq_emulator.set_faults(error_rate=0.0)
    call_command("expire_orders", stdout=StringIO())

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    _never_ended(order)


@pytest.mark.django_db(transaction=True)
def test_cancel_while_the_shoppers_confirm_waits_on_a_slow_banq_finds_the_payment(
    emulator_store, banq_emulator
):
    banq_emulator.set_faults(drop_deliveries=1.0)
    shopper = Shopper(emulator_store.url)
    public_id, _ = shopper.place_order(product_create())
    order = Order.objects.get(public_id=public_id)
    attempt = payment_link_generate(order=order)
    banq_emulator.complete(attempt.banq_payment_id)
    banq_emulator.set_faults(latency_ms=2500)
    confirmed: dict = {}
    confirm = threading.Thread(target=lambda: confirmed.update(shopper.confirm(public_id).json()))
    confirm.start()
    time.sleep(0.5)  # the confirm is waiting on banq now

    result = order_cancel(order=order, source=OrderEvent.Source.ADMIN, actor="merchant")
    confirm.join(20)

    assert result == EndResult.PAID
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert (confirmed["status"], confirmed["refund_due"]) == ("paid", False)
    assert shopper.status(public_id)["refund_due"] is False
    _never_ended(order)


# --- the family: every state change, banq unreachable, slow and erroring ---------------------


def _closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


DEAD_URL = f"http://127.0.0.1:{_closed_port()}"  # nothing listens there: banq can't be reached
UNREACHABLE = "banq can't be reached right now"
TOLD_AN_END = ("This order expired", "This order was cancelled", "will be refunded", "did not go")


class Fault:
    """banq ``unreachable`` (nothing listens), ``slow`` (2.5 s per call) or ``erroring`` (503 on
    every look-up), for this process (``on``/``off``) and for a live store (``store_env``)."""

    def __init__(self, kind: str, emulator, settings) -> None:
        self.kind, self.emulator, self.settings = kind, emulator, settings

    @property
    def answers(self) -> bool:
        """A slow banq still answers within every budget: the payment is found at once."""
        return self.kind == "slow"

    def on(self) -> None:
        if self.kind == "slow":
            self.emulator.set_faults(latency_ms=2500)
        elif self.kind == "erroring":
            self.emulator.set_faults(**ERRORING)
        else:
            self.settings.BANQ_API_URL = f"{DEAD_URL}/api/v1"

    def off(self) -> None:
        self.emulator.set_faults(latency_ms=0, error_rate=0.0)
        self.settings.BANQ_API_URL = self.emulator.api_url

    def store_env(self, env: dict[str, str]) -> dict[str, str]:
        return {**env, "BANQ_EMULATOR_URL": DEAD_URL} if self.kind == "unreachable" else env


@pytest.fixture(params=["unreachable", "slow", "erroring"])
def fault(request, emulator_settings, banq_emulator):
    emulator_settings.BANQ_RETRY_BACKOFF = 0.05  # the worker's retries, quickly
    fault = Fault(request.param, banq_emulator, emulator_settings)
    yield fault
    fault.off()


def _visible(page: str) -> str:
    """The page without the blocks it hides."""
    return re.sub(r"<(div|p|details|strong)[^>]*\bhidden\b[^>]*>.*?</\1>", "", page, flags=re.S)


def _shopper_sees(status: dict, page: str, *, fault: Fault, during: bool) -> None:
    """What the shopper is shown: never an end of the order or a refund; while banq can't
    answer, that it can't be reached (a slow banq answered: the order is paid)."""
    assert status["status"] not in ("cancelled", "expired", "failed"), status
    assert status["refund_due"] is False
    shown = _visible(page)
    assert not [words for words in TOLD_AN_END if words in shown], shown
    if during and not fault.answers:
        assert status["banq_reachable"] is False
        assert "unreachable" in status["states"]
        assert UNREACHABLE in shown
    else:
        assert (status["status"], status["paid"], status["banq_reachable"]) == ("paid", True, True)
        assert "Payment confirmed." in shown


def _in_process_shopper(order: Order, fault: Fault, *, during: bool) -> None:
    """The shopper's page and status, from the signed link (the real views, in this process)."""
    client = Client()
    url = order_signed_url(order=order)
    page = client.get(url).content.decode()
    status = client.get(url.replace("/?", "/status?")).json()
    _shopper_sees(status, page, fault=fault, during=during)


def _ended_paid(order: Order) -> None:
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    _never_ended(order)


@pytest.mark.django_db
def test_expiry_by_the_worker_and_the_command(fault, banq_emulator):
    order, _ = _paid_at_banq(banq_emulator)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=2))
    fault.on()

    orders_expire.call()  # the worker's periodic expiry
    out = StringIO()
    call_command("expire_orders", stdout=out)

    if not fault.answers:
        assert f"not expired {order.number}: {UNREACHABLE}" in out.getvalue()
    _in_process_shopper(order, fault, during=True)
    fault.off()
    orders_expire.call()
    _ended_paid(order)
    _in_process_shopper(order, fault, during=False)


@pytest.mark.django_db
def test_cancel_by_the_admin(fault, banq_emulator, admin_client):
    order, _ = _paid_at_banq(banq_emulator)
    fault.on()

    said = []
    for _ in range(2):
        answer = admin_client.post(
            ORDERS_URL, {"action": "cancel_orders", "_selected_action": [order.pk]}, follow=True
        )
        said.append(" ".join(messages_of(answer)))
    if fault.answers:  # the first finds the payment; the second finds the order paid
        assert "a completed payment was found" in said[0]
        assert "whose status can't be cancelled" in said[1]
    else:
        assert all(UNREACHABLE in text for text in said), said
    if not fault.answers:
        listing = admin_client.get(ORDERS_URL).content.decode()
        assert 'class="banq-unreachable"' in listing
    _in_process_shopper(order, fault, during=True)
    fault.off()
    admin_client.post(ORDERS_URL, {"action": "cancel_orders", "_selected_action": [order.pk]})
    _ended_paid(order)
    _in_process_shopper(order, fault, during=False)


@pytest.mark.django_db
def test_cancel_by_the_command(fault, banq_emulator):
    order, _ = _paid_at_banq(banq_emulator)
    fault.on()

    said = []
    for _ in range(2):
        out = StringIO()
        with pytest.raises(CommandError):  # exit status 1: not cancelled
            call_command("cancel_orders", order.number, stdout=out)
        said.append(out.getvalue())
    if fault.answers:
        assert f"{order.number}: not cancelled: a completed payment was found" in said[0]
        assert f"{order.number}: not cancelled: it is paid" in said[1]
    else:
        assert all(f"{order.number}: not cancelled: {UNREACHABLE}" in text for text in said)
    _in_process_shopper(order, fault, during=True)
    fault.off()
    with pytest.raises(CommandError):
        call_command("cancel_orders", order.number, stdout=StringIO())
    _ended_paid(order)
    _in_process_shopper(order, fault, during=False)


@pytest.mark.django_db
def test_the_sweep(fault, banq_emulator):
    order, attempt = _paid_at_banq(banq_emulator)
    fault.on()

    for _ in range(2):
        BanqPayment.objects.filter(pk=attempt.pk).update(next_check_at=timezone.now())
        banq_sweep.call()

    _in_process_shopper(order, fault, during=True)
    fault.off()
    attempt.refresh_from_db()
    assert attempt.next_check_at is None or attempt.next_check_at <= timezone.now() + timedelta(
        seconds=30
    )  # a failed look-up is asked again soon
    BanqPayment.objects.filter(pk=attempt.pk).update(next_check_at=timezone.now())
    banq_sweep.call()
    _ended_paid(order)
    _in_process_shopper(order, fault, during=False)


@pytest.mark.django_db
def test_banq_reconcile(fault, banq_emulator):
    order, _ = _paid_at_banq(banq_emulator)
    fault.on()

    for _ in range(2):
        run = run_command("banq_reconcile", order=order.number)
        if fault.answers:
            assert run.code == 0
            assert re.search(r": (already )?paid", run.out), run.out
        else:
            assert run.code == 1  # banq can't be reached: exit status 1, nothing applied
            assert UNREACHABLE in run.err
    _in_process_shopper(order, fault, during=True)
    fault.off()
    call_command("banq_reconcile", "--order", order.number, stdout=StringIO())
    _ended_paid(order)
    _in_process_shopper(order, fault, during=False)


@pytest.mark.django_db
def test_the_admins_re_check(fault, banq_emulator, admin_client):
    order, _ = _paid_at_banq(banq_emulator)
    fault.on()

    for _ in range(2):
        answer = admin_client.post(
            ORDERS_URL, {"action": "recheck_with_banq", "_selected_action": [order.pk]}, follow=True
        )
        said = " ".join(messages_of(answer))
        assert (": paid" if fault.answers else UNREACHABLE) in said or "already paid" in said
    _in_process_shopper(order, fault, during=True)
    fault.off()
    admin_client.post(ORDERS_URL, {"action": "recheck_with_banq", "_selected_action": [order.pk]})
    _ended_paid(order)
    _in_process_shopper(order, fault, during=False)


@pytest.mark.django_db
def test_the_installments_sweep(fault, banq_emulator, emulator_settings):
    banq_emulator.set_faults(drop_deliveries=1.0)
    order = recurring_order_create()
    attempt = payment_link_generate(order=order)
    banq_emulator.complete(attempt.banq_payment_id)
    call_command("banq_reconcile", "--order", order.number, stdout=StringIO())
    charged = banq_emulator.next_installment(attempt.banq_payment_id)  # its webhook is lost
    later = timezone.now() + timedelta(days=45)  # installment 2 is overdue by then
    fault.on()

    for _ in range(2):
        Subscription.objects.filter(order=order).update(provider_checked_at=None)
        installments_sweep(limit=5, now=later)

    if not fault.answers:
        assert not Installment.objects.filter(subscription__order=order, number=1).exists()
    fault.off()
    Subscription.objects.filter(order=order).update(provider_checked_at=None)
    installments_sweep(limit=5, now=later)

    paid = Installment.objects.get(subscription__order=order, number=1)
    assert (paid.status, paid.transaction_id) == (Installment.Status.PAID, charged["guid"])
    assert not order.flags.filter(kind__in=["installment_missed", "installment_failed"]).exists()
    _ended_paid(order)


# --- the shopper's paths, through a live store ------------------------------------------------


@pytest.fixture
def shop(fault, live_store_factory, emulator_store_env, banq_emulator):
    """A live store whose banq suffers ``fault`` too; the order placed by its shopper, with a
    link made and paid at banq (its webhook lost)."""
    store = live_store_factory(fault.store_env(emulator_store_env))
    banq_emulator.set_faults(drop_deliveries=1.0)
    shopper = Shopper(store.url)
    public_id, _ = shopper.place_order(product_create())
    order = Order.objects.get(public_id=public_id)
    attempt = payment_link_generate(order=order)
    banq_emulator.complete(attempt.banq_payment_id)
    return shopper, order


def _live_shopper(shopper: Shopper, order: Order, fault: Fault, *, during: bool) -> None:
    page = shopper.http.get(f"{shopper.base}/orders/{order.public_id}/", timeout=15).text
    _shopper_sees(shopper.status(str(order.public_id)), page, fault=fault, during=during)


def _banq_is_back(order: Order) -> None:
    """The worker (here, this process) reaches banq again and records the payment."""
    call_command("banq_reconcile", "--order", order.number, stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_cancel_by_the_shopper(fault, shop):
    shopper, order = shop
    fault.on()

    said = []
    for _ in range(2):
        answer = shopper.post_form(f"/orders/{order.public_id}/cancel", {})
        assert answer.status_code == 200
        said.append(answer.text)
    if fault.answers:
        assert "your payment went through" in said[0]
        assert "This order can no longer be cancelled." in said[1]
    else:
        assert all(UNREACHABLE in text for text in said)

    _live_shopper(shopper, order, fault, during=True)
    fault.off()
    _banq_is_back(order)
    _ended_paid(order)
    _live_shopper(shopper, order, fault, during=False)


@pytest.mark.django_db(transaction=True)
def test_the_shoppers_confirm(fault, shop):
    shopper, order = shop
    fault.on()

    for _ in range(2):
        confirmed = shopper.confirm(str(order.public_id)).json()
        assert confirmed["paid"] is fault.answers
        assert confirmed["banq_reachable"] is True or not fault.answers
        assert confirmed["confirming"] is not fault.answers

    _live_shopper(shopper, order, fault, during=True)
    fault.off()
    _banq_is_back(order)
    _ended_paid(order)
    _live_shopper(shopper, order, fault, during=False)


@pytest.mark.django_db(transaction=True)
def test_the_order_page_past_its_payment_time(fault, shop):
    shopper, order = shop
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=2))
    fault.on()

    for _ in range(2):  # each view of a stale order asks banq before it may expire it
        _live_shopper(shopper, order, fault, during=True)

    fault.off()
    _banq_is_back(order)
    _ended_paid(order)
    _live_shopper(shopper, order, fault, during=False)
