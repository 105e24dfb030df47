"""banq_reconcile: re-fetch open attempts and apply banq's answer exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.core.cache import cache
from django.utils import timezone

from banq.models import BanqPayment
from banq.services import payment_link_generate
from banq.settings import parse_duration
from orders.models import Order
from tests.commands.conftest import assert_no_secret, run_command
from tests.factories import order_create
from tests.support.banq_api import add_payment, api_calls, payment_payload
from tests.webhooks.support import order_with_attempt

pytestmark = pytest.mark.django_db


def _age(order: Order, minutes: int = 30) -> Order:
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))
    order.refresh_from_db()
    return order


def _old_order_with_attempt(**kwargs) -> tuple[Order, BanqPayment]:
    order, attempt = order_with_attempt(**kwargs)
    return _age(order), attempt


def _remote(order: Order, status: str, **kwargs):
    return payment_payload(
        status=status, funds=order.total, external_order_code=order.number, **kwargs
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


def test_reconcile_marks_a_completed_payment_paid(
    banq_api, mailoutbox, django_capture_on_commit_callbacks, run_tasks
):
    order, _ = _old_order_with_attempt()
    add_payment(banq_api, _remote(order, "completed"))

    with django_capture_on_commit_callbacks(execute=True):
        run = run_command("banq_reconcile")
    run_tasks()

    assert run.code == 0, run.text
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert "paid 1" in run.out
    assert "Checked 1 order(s)" in run.out
    assert len(mailoutbox) == 1
    assert_no_secret(run)


def test_reconcile_second_run_changes_nothing(
    banq_api, mailoutbox, django_capture_on_commit_callbacks, run_tasks
):
    order, _ = _old_order_with_attempt()
    add_payment(banq_api, _remote(order, "completed"))
    with django_capture_on_commit_callbacks(execute=True):
        run_command("banq_reconcile")
    order.refresh_from_db()
    paid_at = order.paid_at

    with django_capture_on_commit_callbacks(execute=True):
        again = run_command("banq_reconcile")  # the paid order is no longer a candidate
        named = run_command("banq_reconcile", order=order.number)  # asked anyway: already paid
    run_tasks()

    assert again.code == 0
    assert "Checked 0 order(s)" in again.out
    assert named.code == 0, named.text
    assert "already paid 1" in named.out
    order.refresh_from_db()
    assert order.paid_at == paid_at
    assert len(mailoutbox) == 1


def test_reconcile_still_open_and_failed(banq_api):
    open_order, _ = _old_order_with_attempt(payment_id="pay-open-0001")
    failed_order, _ = _old_order_with_attempt(payment_id="pay-fail-0002")
    add_payment(banq_api, _remote(open_order, "created", payment_id="pay-open-0001"))
    add_payment(
        banq_api,
        _remote(
            failed_order, "failed", payment_id="pay-fail-0002", fail_reason="InsufficientBalance"
        ),
    )

    run = run_command("banq_reconcile")

    assert run.code == 0, run.text
    assert "still open 1" in run.out
    assert "failed 1" in run.out
    open_order.refresh_from_db()
    failed_order.refresh_from_db()
    assert open_order.status == Order.Status.AWAITING_PAYMENT
    assert failed_order.status == Order.Status.FAILED


def test_reconcile_rejects_an_amount_mismatch(banq_api):
    order, _ = _old_order_with_attempt(total="19.99")
    add_payment(
        banq_api,
        payment_payload(status="completed", funds="9.99", external_order_code=order.number),
    )

    run = run_command("banq_reconcile")

    assert run.code == 0
    assert "rejected 1" in run.out
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert list(order.flags.values_list("kind", flat=True)) == ["amount_mismatch"]


def test_dry_run_says_what_the_real_run_does_on_a_mismatch(banq_api):
    order, _ = _old_order_with_attempt(total="19.99")
    add_payment(
        banq_api,
        payment_payload(status="completed", funds="0.01", external_order_code=order.number),
    )

    dry = run_command("banq_reconcile", dry_run=True)
    real = run_command("banq_reconcile")

    assert dry.code == real.code == 0
    assert "would be rejected by verification (Amount mismatch" in dry.out
    assert "paid 0" in dry.out
    assert "rejected 1" in dry.out
    assert ": rejected by verification (Amount mismatch" in real.out
    assert "rejected 1" in real.out
    order.refresh_from_db()
    assert order.paid_at is None


@pytest.mark.parametrize(
    "status", [Order.Status.EXPIRED, Order.Status.CANCELLED, Order.Status.FAILED]
)
def test_reconcile_covers_closed_orders_with_an_open_link(banq_api, status):
    order, _ = _old_order_with_attempt(status=status)
    add_payment(banq_api, _remote(order, "completed"))

    run = run_command("banq_reconcile")

    assert run.code == 0, run.text
    assert "paid 1" in run.out
    order.refresh_from_db()
    assert order.paid_at is not None
    if status == Order.Status.CANCELLED:
        assert order.refund_due
    else:
        assert order.status == Order.Status.PAID


def test_reconcile_skips_young_orders(banq_api):
    order_with_attempt()  # created just now

    run = run_command("banq_reconcile", older_than="15m")

    assert run.code == 0
    assert "Checked 0 order(s)" in run.out
    assert api_calls(banq_api) == []


def test_reconcile_lists_orders_without_a_banq_payment_id(banq_api):
    no_id, _ = _old_order_with_attempt(payment_id="")
    no_attempt = _age(order_create(status=Order.Status.AWAITING_PAYMENT))

    run = run_command("banq_reconcile")

    assert run.code == 0
    assert f"{no_id.number}: not reconcilable: banq returned no payment id" in run.out
    assert f"{no_attempt.number}: not reconcilable: no payment attempt" in run.out
    assert "not reconcilable 2" in run.out


def test_reconcile_dry_run_applies_nothing(banq_api):
    order, _ = _old_order_with_attempt()
    add_payment(banq_api, _remote(order, "completed"))

    run = run_command("banq_reconcile", dry_run=True)

    assert run.code == 0
    assert "would be paid" in run.out
    assert "Dry run, nothing applied" in run.out
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert order.paid_at is None


def test_reconcile_banq_down_exits_1_and_changes_nothing(banq_api):
    order, attempt = _old_order_with_attempt()
    add_payment(banq_api, {"error": "down"}, payment_id=attempt.banq_payment_id, status=503)

    run = run_command("banq_reconcile")

    assert run.code == 1
    assert "banq could not be asked (banq can't be reached right now)" in run.err
    assert "errors 1" in run.out
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_reconcile_bad_credentials_exits_1(banq_api, settings):
    _old_order_with_attempt()
    banq_api.replace(responses.POST, settings.BANQ_TOKEN_URL, json={"error": "no"}, status=401)

    run = run_command("banq_reconcile")

    assert run.code == 1
    assert_no_secret(run)


def test_reconcile_refuses_a_bad_duration():
    run = run_command("banq_reconcile", older_than="15 minutes")

    assert run.code == 1
    assert "30s, 15m, 2h or 1d" in run.err


def test_reconcile_unknown_order_number():
    run = run_command("banq_reconcile", order="SF-NOPE")

    assert run.code == 1
    assert "No order SF-NOPE" in run.err


def test_reconcile_waits_for_a_look_up_in_flight_and_never_takes_it_for_an_answer(
    banq_api, settings
):
    settings.BANQ_REQUEST_BUDGET = 0.3  # how long a command waits for a look-up in flight
    order, attempt = _old_order_with_attempt()
    # Another reconcile run, the worker's sweep or a shopper's confirm, in any process, is
    # waiting for banq right now.
    BanqPayment.objects.filter(pk=attempt.pk).update(check_claimed_at=timezone.now())

    run = run_command("banq_reconcile")

    assert run.code == 0
    assert "another look-up is still waiting for banq; not asked" in run.out
    assert "not asked 1" in run.out
    assert api_calls(banq_api) == []
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_reconcile_asks_banq_itself_right_after_an_earlier_look_up(banq_api):
    order, attempt = _old_order_with_attempt()
    asked = timezone.now() - timedelta(seconds=1)
    BanqPayment.objects.filter(pk=attempt.pk).update(check_claimed_at=asked, checked_at=asked)
    add_payment(banq_api, _remote(order, "completed"))

    run = run_command("banq_reconcile")

    assert run.code == 0
    assert ": paid" in run.out
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


# --- against the running emulator ---------------------------------------------------------


def _emulator_order_with_link() -> tuple[Order, BanqPayment]:
    order = order_create(total="12.34")
    attempt = payment_link_generate(order=order)
    assert attempt.banq_payment_id
    return _age(order), attempt


def test_reconcile_against_the_emulator(
    emulator_settings, banq_emulator, mailoutbox, django_capture_on_commit_callbacks, run_tasks
):
    order, attempt = _emulator_order_with_link()
    banq_emulator.complete(attempt.banq_payment_id)

    dry = run_command("banq_reconcile", dry_run=True)
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT
    assert "would be paid" in dry.out

    with django_capture_on_commit_callbacks(execute=True):
        run = run_command("banq_reconcile")
        second = run_command("banq_reconcile", order=order.number)
    run_tasks()

    assert run.code == 0, run.text
    assert "paid 1" in run.out
    assert second.code == 0
    assert "already paid 1" in second.out
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.payment_reference == attempt.banq_payment_id
    assert len(mailoutbox) == 1
    assert_no_secret(run)


def test_reconcile_emulator_down(emulator_settings, banq_emulator):
    emulator_settings.BANQ_RETRIES = 0
    order, attempt = _emulator_order_with_link()
    banq_emulator.complete(attempt.banq_payment_id)
    banq_emulator.set_faults(error_rate=1.0, error_routes=["get-payment"])

    run = run_command("banq_reconcile")

    assert run.code == 1
    order.refresh_from_db()
    assert order.status == Order.Status.AWAITING_PAYMENT


def test_reconcile_emulator_bad_credentials(emulator_settings):
    order, _ = _emulator_order_with_link()
    emulator_settings.BANQ_PASSWORD = "wrong-pass-4567"
    cache.clear()  # drop the token fetched while creating the link

    run = run_command("banq_reconcile")

    assert run.code == 1
    assert_no_secret(run, "wrong-pass-4567")
