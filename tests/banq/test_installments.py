"""Installments of recurring payments: recorded exactly once through the locked settlement service,
verified like a one-time payment, failures flagged and e-mailed, receipts through the outbox, the
end of the plan, and the sweep's overdue installments. banq is mocked with ``responses``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from banq.installments import InstallmentResult, installment_evaluate
from banq.models import BanqPayment
from banq.outcomes import Settlement
from banq.overdue import installment_is_overdue, installments_sweep
from banq.payloads import parse_payment
from banq.settlement import payment_apply, payment_preview
from banq.tasks import banq_sweep
from orders.access import order_signed_url
from orders.admin_selectors import order_needs_attention_q
from orders.models import Installment, Order, OrderEvent, OrderFlag, Subscription
from orders.notifications import order_status_payload
from tests.commands.conftest import run_command
from tests.factories import membership_create, recurring_order_create
from tests.support.banq_api import (
    PAYMENT_ID,
    api_calls,
    banq_api_url,
    installment_item,
    installment_transaction_payload,
    json_body,
    recurring_payment_payload,
    webhook_notification_payload,
)
from tests.webhooks.support import GroupListener, post_event
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

T = [f"7a1c0e2b-0000-4000-8000-00000000000{n}" for n in range(10)]


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks, run_tasks):
    """POST a webhook as banq would, run the after-commit pushes, then the worker's outbox."""

    def _deliver(body):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_event(client, body)
        run_tasks()
        return response.json()["status"]

    return _deliver


def plan_order(
    *, periods: int | None = 12, payment_id: str = PAYMENT_ID
) -> tuple[Order, Subscription]:
    """A recurring order placed through checkout, with its banq link handed out."""
    order = recurring_order_create(product=membership_create(periods=periods))
    subscription = order.subscription
    plan = subscription.plan
    BanqPayment.objects.create(
        order=order,
        banq_payment_id=payment_id,
        url="https://link.banq.com/4x1t09WiOjb",
        funds=order.total,
        frequency=plan.frequency,
        start_date=plan.start,
        end_date=plan.last_due,
    )
    Order.objects.filter(pk=order.pk).update(status=Order.Status.AWAITING_PAYMENT)
    order.refresh_from_db()
    return order, subscription


def item(subscription: Subscription, n: int, *, guid: str | None = None, **kwargs):
    return installment_item(
        guid=guid or T[n], number=n, scheduled_date=subscription.plan.due(n).isoformat(), **kwargs
    )


def payment(order: Order, subscription: Subscription, *items, **kwargs):
    plan = subscription.plan
    end = plan.last_due
    return recurring_payment_payload(
        external_order_code=order.number,
        start_date=plan.start.isoformat(),
        end_date=end.isoformat() if end else None,
        transactions=list(items),
        **kwargs,
    )


def answer(banq_api, order: Order, subscription: Subscription, *items, event: dict | None = None):
    """What banq answers now: the payment with its ``items``, and, for a Transaction event, the
    transaction it names (``event``: one of ``items``). Replaces earlier answers."""
    body = payment(order, subscription, *items)
    banq_api.upsert(
        "GET",
        banq_api_url(f"/payments/{PAYMENT_ID}"),
        body=json_body(body),
        status=200,
        content_type="application/json",
    )
    if event is not None:
        data = installment_transaction_payload(event, external_order_code=order.number)
        banq_api.upsert(
            "GET",
            banq_api_url(f"/transactions/{event['guid']}"),
            body=json_body(data),
            status=200,
            content_type="application/json",
        )


def transaction_event(n: int, action: str = "completed"):
    return webhook_notification_payload(
        action=action, resource_type="Transaction", resource_id=T[n]
    )


def payment_event():
    return webhook_notification_payload(resource_type="Payment", resource_id=PAYMENT_ID)


def installments(order: Order) -> list[tuple[int, str, str]]:
    return list(
        Installment.objects.filter(subscription__order=order)
        .order_by("number", "pk")
        .values_list("number", "status", "transaction_id")
    )


def emails(order: Order) -> list[str]:
    return list(
        order.history.filter(kind=OrderEvent.Kind.EMAIL)
        .order_by("pk")
        .values_list("data__email", flat=True)
    )


def paid_first(banq_api, deliver, order, subscription):
    """The shopper pays the link: banq's Payment event."""
    answer(banq_api, order, subscription, item(subscription, 0))
    assert deliver(payment_event()) == "processed"
    order.refresh_from_db()
    subscription.refresh_from_db()


# --- the first payment is installment 1 ----------------------------------------------------------


def test_paying_the_link_pays_the_order_once_and_is_the_plans_first_installment(
    banq_api, deliver, mailoutbox
):
    order, subscription = plan_order()

    paid_first(banq_api, deliver, order, subscription)

    assert order.status == Order.Status.PAID
    assert order.history.filter(kind=OrderEvent.Kind.PAID).count() == 1
    assert installments(order) == [(0, "paid", T[0])]
    assert subscription.state == Subscription.State.ACTIVE
    assert subscription.next_number == 1
    assert subscription.next_due_date == subscription.plan.due(1)
    assert emails(order) == ["paid"]  # one confirmation, no extra receipt for the first payment
    assert len(mailoutbox) == 1


def test_a_first_payment_without_transactions_is_installment_1_and_named_later(banq_api, deliver):
    order, subscription = plan_order()
    answer(banq_api, order, subscription)  # banq lists no transactions (yet)

    deliver(payment_event())

    assert installments(order) == [(0, "paid", "")]
    first = item(subscription, 0)
    answer(banq_api, order, subscription, first, event=first)
    assert deliver(transaction_event(0)) == "processed"
    assert installments(order) == [(0, "paid", T[0])]


# --- later installments ------------------------------------------------------------------------


def test_an_installment_is_recorded_once_with_a_receipt_and_the_order_stays_paid(
    banq_api, deliver, mailoutbox
):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    listener = GroupListener(order)
    answer(
        banq_api,
        order,
        subscription,
        item(subscription, 0),
        item(subscription, 1),
        event=item(subscription, 1),
    )

    first = deliver(transaction_event(1))
    again = deliver(transaction_event(1))  # banq redelivers (a new event id, the same change)

    assert (first, again) == ("processed", "duplicate")
    order.refresh_from_db()
    subscription.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert installments(order) == [(0, "paid", T[0]), (1, "paid", T[1])]
    assert subscription.next_number == 2
    assert order.history.filter(kind=OrderEvent.Kind.PAID).count() == 1
    assert order.history.filter(kind=OrderEvent.Kind.INSTALLMENT).count() == 2
    receipt = Installment.objects.get(transaction_id=T[1])
    assert emails(order) == ["paid", f"installment_paid:{receipt.pk}"]
    assert len(mailoutbox) == 2
    assert "receipt for payment 2 of your plan" in mailoutbox[1].subject
    assert "Payment 2 of 12: $9.90 paid on" in mailoutbox[1].body
    pushed = listener.messages()
    assert pushed
    assert [i["number"] for i in pushed[-1]["installments"]] == [1, 2]


def test_out_of_order_events_record_each_installment_exactly_once(banq_api, deliver):
    order, subscription = plan_order()
    items = [item(subscription, n) for n in range(3)]
    # banq's events arrive backwards: installment 3's transaction first, the payment's last.
    states = []
    for n in (2, 1, 0):
        answer(banq_api, order, subscription, *items, event=items[n])
        states.append(deliver(transaction_event(n)))
    states.append(deliver(payment_event()))

    assert states == ["processed", "duplicate", "duplicate", "duplicate"]
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.payment_reference == PAYMENT_ID
    assert installments(order) == [(0, "paid", T[0]), (1, "paid", T[1]), (2, "paid", T[2])]
    assert order.history.filter(kind=OrderEvent.Kind.PAID).count() == 1
    assert sorted(emails(order)) == sorted(
        ["paid"] + [f"installment_paid:{i.pk}" for i in Installment.objects.filter(number__gt=0)]
    )
    assert WebhookEvent.objects.filter(state=WebhookEvent.State.PROCESSED).count() == 1


def test_a_failed_installment_is_recorded_flagged_and_e_mailed_then_the_next_succeeds(
    banq_api, deliver, mailoutbox
):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    failed = item(subscription, 1, status="failed", fail_reason="InsufficientBalance")
    answer(banq_api, order, subscription, item(subscription, 0), failed, event=failed)

    assert deliver(transaction_event(1, "failed")) == "processed"

    order.refresh_from_db()
    row = Installment.objects.get(transaction_id=T[1])
    assert (row.status, row.fail_reason) == ("failed", "InsufficientBalance")
    assert row.fail_text == "Your banq account doesn't have enough balance for this payment."
    assert order.status == Order.Status.PAID  # a later installment never changes the order
    flag = order.flags.get(kind=OrderFlag.Kind.INSTALLMENT_FAILED)
    assert flag.reference == T[1]
    assert Order.objects.filter(order_needs_attention_q(reason="installment_failed")).count() == 1
    assert "did not go through" in mailoutbox[-1].subject
    assert "enough balance" in mailoutbox[-1].body
    payload = order_status_payload(order)
    assert payload["installments"][1]["status"] == "failed"
    assert payload["installments"][1]["reason"] == row.fail_text

    # The next month's charge goes through.
    following = item(subscription, 2)
    answer(banq_api, order, subscription, item(subscription, 0), failed, following, event=following)
    assert deliver(transaction_event(2)) == "processed"

    assert installments(order) == [(0, "paid", T[0]), (1, "failed", T[1]), (2, "paid", T[2])]
    subscription.refresh_from_db()
    assert subscription.next_number == 3
    assert "receipt for payment 3" in mailoutbox[-1].subject
    assert len(mailoutbox) == 3  # confirmation, failure, receipt


def test_an_installment_that_does_not_check_out_is_rejected_and_flagged(banq_api, deliver):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    wrong = item(subscription, 1, funds="99.00")
    answer(banq_api, order, subscription, item(subscription, 0), wrong, event=wrong)

    deliver(transaction_event(1))

    assert installments(order) == [(0, "paid", T[0]), (1, "rejected", T[1])]
    flag = order.flags.get(kind=OrderFlag.Kind.AMOUNT_MISMATCH)
    assert flag.reference == T[1]
    assert "99.00" in flag.note
    assert emails(order) == ["paid"]  # no receipt for money that doesn't check out


def test_an_installment_in_another_currency_is_rejected_and_flagged(banq_api, deliver):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    wrong = item(subscription, 1)
    wrong["funds"] = {"value": wrong["funds"], "currency": "EUR"}  # the plan's amount, in euros
    answer(banq_api, order, subscription, item(subscription, 0), wrong, event=wrong)

    deliver(transaction_event(1))

    assert installments(order) == [(0, "paid", T[0]), (1, "rejected", T[1])]
    flag = order.flags.get(kind=OrderFlag.Kind.AMOUNT_MISMATCH)
    assert flag.reference == T[1]
    assert "Currency mismatch" in flag.note
    assert "EUR" in flag.note
    assert emails(order) == ["paid"]


def test_an_installment_for_another_order_code_is_rejected(banq_api, deliver):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    answer(banq_api, order, subscription, item(subscription, 0), item(subscription, 1))
    data = installment_transaction_payload(item(subscription, 1), external_order_code="SF-OTHER")
    banq_api.upsert(
        "GET",
        banq_api_url(f"/transactions/{T[1]}"),
        body=json_body(data),
        content_type="application/json",
    )

    deliver(transaction_event(1))

    assert installments(order)[-1] == (1, "rejected", T[1])
    assert order.flags.filter(kind=OrderFlag.Kind.ORDER_CODE_MISMATCH, reference=T[1]).exists()


# --- the end of the plan ----------------------------------------------------------------------


def test_the_plan_ends_after_its_last_installment_and_nothing_is_expected_after_it(
    banq_api, deliver, settings
):
    order, subscription = plan_order(periods=2)
    paid_first(banq_api, deliver, order, subscription)
    answer(
        banq_api,
        order,
        subscription,
        item(subscription, 0),
        item(subscription, 1),
        event=item(subscription, 1),
    )

    deliver(transaction_event(1))

    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.ENDED
    assert (subscription.next_number, subscription.next_due_date) == (None, None)
    plan = order_status_payload(order)["plan"]
    assert (plan["live"], plan["next_date"]) == (False, None)
    assert plan["next_text"] == "The plan has ended: no more payments are due."
    # Years later the sweep asks banq about nothing for this plan.
    later = timezone.now() + timedelta(days=800)
    assert installments_sweep(limit=10, now=later).checked == 0


def test_a_charge_after_the_plans_end_is_recorded_and_flagged_for_a_refund(banq_api, deliver):
    order, subscription = plan_order(periods=2)
    beyond = installment_item(guid=T[2], number=2, scheduled_date="2099-01-01")
    items = [item(subscription, 0), item(subscription, 1), beyond]
    answer(banq_api, order, subscription, *items, event=beyond)

    deliver(transaction_event(2))

    assert installments(order)[-1] == (2, "paid", T[2])
    flag = order.flags.get(kind=OrderFlag.Kind.INSTALLMENT_UNEXPECTED)
    assert "after the plan's end" in flag.note
    assert not [e for e in emails(order) if e.startswith("installment_paid")][2:]


# --- the sweep ---------------------------------------------------------------------------------


def _overdue(subscription: Subscription, settings) -> timezone.datetime:
    """A moment when the expected installment is overdue by the grace period."""
    subscription.refresh_from_db()
    due = subscription.next_due_date
    return timezone.make_aware(
        timezone.datetime.combine(due + timedelta(days=1), timezone.datetime.min.time())
    ) + timedelta(days=1, minutes=1)


def test_the_sweep_records_an_overdue_installment_banq_has(banq_api, deliver, settings):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    at = _overdue(subscription, settings)
    assert not installment_is_overdue(
        subscription=subscription, now=at - timedelta(minutes=2), grace=timedelta(days=1)
    )
    assert installment_is_overdue(subscription=subscription, now=at, grace=timedelta(days=1))
    answer(banq_api, order, subscription, item(subscription, 0), item(subscription, 1))
    calls = len(api_calls(banq_api))

    result = installments_sweep(limit=10, now=at)

    assert (result.checked, result.recorded, result.missed) == (1, 1, 0)
    assert len(api_calls(banq_api)) == calls + 1
    assert installments(order)[-1] == (1, "paid", T[1])
    line = order.history.filter(kind=OrderEvent.Kind.INSTALLMENT).last()
    assert line.source == OrderEvent.Source.SWEEP
    assert not order.flags.filter(kind=OrderFlag.Kind.INSTALLMENT_MISSED).exists()


def test_the_sweep_flags_a_missed_installment_once_and_expects_the_next(
    banq_api, deliver, settings
):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    at = _overdue(subscription, settings)
    answer(banq_api, order, subscription, item(subscription, 0))  # nothing new

    first = installments_sweep(limit=10, now=at)
    second = installments_sweep(limit=10, now=at + timedelta(hours=1))

    assert (first.checked, first.missed) == (1, 1)
    assert (second.checked, second.missed) == (0, 0)  # nothing overdue any more: no call
    flag = order.flags.get(kind=OrderFlag.Kind.INSTALLMENT_MISSED)
    assert flag.reference == f"installment-1-{subscription.plan.due(1).isoformat()}"
    assert "Installment 2 of 12" in flag.note
    subscription.refresh_from_db()
    assert (subscription.next_number, subscription.next_due_date) == (2, subscription.plan.due(2))
    assert Order.objects.filter(order_needs_attention_q(reason="installment_missed")).count() == 1
    # The late charge still counts when banq reports it.
    answer(
        banq_api,
        order,
        subscription,
        item(subscription, 0),
        item(subscription, 1),
        event=item(subscription, 1),
    )
    deliver(transaction_event(1))
    assert installments(order)[-1] == (1, "paid", T[1])
    subscription.refresh_from_db()
    assert subscription.next_number == 2  # the expectation never goes back


def test_the_sweep_asks_again_later_when_banq_is_down(banq_api, deliver, settings):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    at = _overdue(subscription, settings)
    banq_api.upsert(
        "GET", banq_api_url(f"/payments/{PAYMENT_ID}"), json={"error": {"code": "down"}}, status=503
    )
    settings.BANQ_RETRIES = 0

    down = installments_sweep(limit=10, now=at)
    soon = installments_sweep(limit=10, now=at + timedelta(minutes=1))

    assert (down.errors, down.missed, soon.checked, soon.errors) == (1, 0, 0, 0)
    assert not order.flags.filter(kind=OrderFlag.Kind.INSTALLMENT_MISSED).exists()
    answer(banq_api, order, subscription, item(subscription, 0))
    later = installments_sweep(limit=10, now=at + timedelta(minutes=16))
    assert (later.checked, later.missed) == (1, 1)


def test_banq_sweep_runs_the_installment_sweep(banq_api, deliver, settings, monkeypatch):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    at = _overdue(subscription, settings)
    answer(banq_api, order, subscription, item(subscription, 0), item(subscription, 1))
    monkeypatch.setattr(timezone, "now", lambda: at)

    summary = banq_sweep.call()

    assert "installments: 1 plan(s) checked, 1 recorded, 0 missed" in summary
    assert installments(order)[-1] == (1, "paid", T[1])


# --- the evaluator, the payload ------------------------------------------------------------------


def test_the_evaluator_writes_nothing(banq_api, deliver, django_assert_num_queries):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    remote = parse_payment(
        payment(order, subscription, item(subscription, 0), item(subscription, 1))
    )

    with django_assert_num_queries(0):
        evaluation = installment_evaluate(
            order=order,
            subscription=subscription,
            remote=remote,
            item=remote.installments[1],
            known=None,
            paid=None,
        )

    assert evaluation.result == InstallmentResult.PAID
    assert evaluation.email == "installment_paid"


def test_the_sweep_and_a_webhook_at_once_record_an_installment_once(banq_api, deliver):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    remote = parse_payment(
        payment(order, subscription, item(subscription, 0), item(subscription, 1))
    )

    outcomes = [payment_apply(remote=remote, source=s) for s in ("webhook", "sweep", "webhook")]

    assert [len(o.installments) for o in outcomes] == [1, 0, 0]
    assert installments(order) == [(0, "paid", T[0]), (1, "paid", T[1])]


def test_the_status_payload_has_the_plan_and_its_installments(banq_api, deliver, client):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    body = client.get(order_signed_url(order=order).replace("/?", "/status?")).json()

    plan = body["plan"]
    assert plan["frequency"] == "monthly"
    assert plan["amount"] == "9.90"
    assert plan["count"] == 12
    assert plan["start_date"] == subscription.start_date.isoformat()
    assert plan["next_date"] == subscription.plan.due(1).isoformat()
    assert plan["live"] is True
    assert plan["description"].startswith("$9.90 every month, starting today, 12 payments")
    (first,) = body["installments"]
    assert (first["number"], first["status"], first["amount"]) == (1, "paid", "9.90")
    assert first["due_date"] == subscription.start_date.isoformat()
    assert first["text"].startswith("Payment 1 of 12: $9.90 paid on ")


def test_a_one_time_order_has_no_plan_in_its_payload(django_assert_num_queries):
    from tests.factories import order_create

    order = order_create()
    with django_assert_num_queries(0):
        payload = order_status_payload(order)
    assert "plan" not in payload
    assert "installments" not in payload


def test_installment_amounts_are_decimal_exact():
    remote = parse_payment(
        recurring_payment_payload(
            transactions=[installment_item(guid=T[0], number=0, scheduled_date="2026-11-25")]
        )
    )
    assert remote.installments[0].funds == Decimal("9.90")


# --- the rarer answers -----------------------------------------------------------------------


def _apply(order, subscription, *items, payment_id: str = PAYMENT_ID):
    remote = parse_payment(payment(order, subscription, *items, payment_id=payment_id))
    return payment_apply(remote=remote, source=OrderEvent.Source.WEBHOOK)


def test_a_failed_charge_that_banq_later_completes_is_paid_with_a_receipt(
    banq_api, deliver, run_tasks, mailoutbox
):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    _apply(order, subscription, item(subscription, 0), item(subscription, 1, status="failed"))

    outcome = _apply(order, subscription, item(subscription, 0), item(subscription, 1))
    run_tasks()

    assert [o.result for o in outcome.installments] == [InstallmentResult.PAID_AFTER_FAILURE]
    assert installments(order) == [(0, "paid", T[0]), (1, "paid", T[1])]
    assert [m.subject.split(": ", 1)[1][:40] for m in mailoutbox[1:]] == [
        "payment 2 of your plan did not go throug",
        "receipt for payment 2 of your plan (orde",
    ]


def test_a_second_charge_of_a_paid_installment_is_flagged_for_a_refund(
    banq_api, deliver, run_tasks
):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    again = item(subscription, 1, guid=T[5])

    _apply(order, subscription, item(subscription, 0), item(subscription, 1), again)
    run_tasks()

    assert installments(order) == [(0, "paid", T[0]), (1, "paid", T[1]), (1, "duplicate", T[5])]
    assert order.flags.get(kind=OrderFlag.Kind.DUPLICATE_PAYMENT).reference == T[5]
    receipt = Installment.objects.get(transaction_id=T[1])
    assert emails(order) == ["paid", f"installment_paid:{receipt.pk}"]  # none for the second
    assert len(order_status_payload(order)["installments"]) == 2  # the shopper sees two


def test_banq_turning_a_paid_charge_into_a_failure_changes_nothing_but_is_flagged(
    banq_api, deliver
):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    _apply(order, subscription, item(subscription, 0), item(subscription, 1))

    _apply(order, subscription, item(subscription, 0), item(subscription, 1, status="failed"))

    assert installments(order)[-1] == (1, "paid", T[1])
    assert order.flags.get(kind=OrderFlag.Kind.PAYMENT_CONTRADICTION).reference == T[1]


def test_charges_of_another_payment_never_move_the_plan(banq_api, deliver):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    BanqPayment.objects.create(
        order=order, banq_payment_id="other-payment", funds=order.total, frequency="monthly"
    )
    other = [item(subscription, 0, guid=T[7]), item(subscription, 1, guid=T[8])]

    outcome = _apply(order, subscription, *other, payment_id="other-payment")

    subscription.refresh_from_db()
    assert subscription.next_number == 1  # still expecting this plan's installment 2
    assert [o.result for o in outcome.installments] == [InstallmentResult.OUTSIDE_PLAN]
    assert order.flags.filter(kind=OrderFlag.Kind.DUPLICATE_PAYMENT).exists()  # paid twice
    assert order.flags.get(kind=OrderFlag.Kind.INSTALLMENT_UNEXPECTED).reference == T[8]


# --- banq_reconcile: the operator's look at one plan ---------------------------------------------


def test_reconcile_dry_run_lists_the_installments_a_real_run_then_records(banq_api, deliver):
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    answer(
        banq_api,
        order,
        subscription,
        item(subscription, 0),
        item(subscription, 1),
        item(subscription, 2, status="failed", fail_reason="InsufficientBalance"),
    )

    dry = run_command("banq_reconcile", order=order.number, dry_run=True)
    recorded_after_dry_run = installments(order)
    real = run_command("banq_reconcile", order=order.number)
    again = run_command("banq_reconcile", order=order.number, dry_run=True)

    assert dry.code == real.code == again.code == 0
    paid, failed = (f"installment {n + 1} (banq transaction {T[n]})" for n in (1, 2))
    assert f"{paid}: installment paid, would be recorded" in dry.out
    assert f"{failed}: installment failed, would be recorded" in dry.out
    assert "installments to record 2" in dry.out
    assert recorded_after_dry_run == [(0, "paid", T[0])]
    assert f"{paid}: installment paid, recorded" in real.out
    assert "installments recorded 2" in real.out
    assert installments(order) == [(0, "paid", T[0]), (1, "paid", T[1]), (2, "failed", T[2])]
    assert "installment" not in again.out.replace("installments", "")


def test_the_preview_of_an_unpaid_plan_agrees_with_applying_it(banq_api):
    """banq's payment pays the order and carries two charges: the preview sees the order as
    paying it would leave it, so it names the installments applying records."""
    order, subscription = plan_order()
    remote = parse_payment(
        payment(order, subscription, item(subscription, 0), item(subscription, 1))
    )

    preview = payment_preview(remote=remote)
    nothing_written = installments(order)
    applied = payment_apply(remote=remote, source="reconcile")

    assert nothing_written == []
    assert preview.result == applied.result == Settlement.PAID
    assert [(i.result, i.number, i.transaction_id) for i in preview.installments] == [
        (i.result, i.number, i.transaction_id) for i in applied.installments
    ]
    assert len(applied.installments) == 2


def test_log_lines_count_installments_as_people_do(banq_api, deliver, caplog):
    """The first payment is installment 1 on the shopper's page, in the admin and in the command's
    output; the log lines say the same (the rows count from 0)."""
    order, subscription = plan_order()
    paid_first(banq_api, deliver, order, subscription)
    answer(banq_api, order, subscription, item(subscription, 0), item(subscription, 1))

    caplog.clear()
    with caplog.at_level("INFO"):
        deliver(payment_event())

    lines = [r.getMessage() for r in caplog.records if "nstallment" in r.getMessage()]
    assert any("Installment 2 of 12 paid" in line for line in lines), lines
    assert any(f"banq payment {PAYMENT_ID} installment 2: paid" in line for line in lines), lines
    assert not any("installment 1:" in line or "Installment 1 " in line for line in lines), lines
