"""Cancelling a recurring plan: by the shopper (owner or signed link, after a confirmation) or by
the merchant in the admin; banq is asked to stop charging, and where it can't the order is
flagged until the merchant confirms; a charge after the cancellation is recorded, flagged for a
refund, and the shopper is told."""

from __future__ import annotations

import json

import pytest
import requests

from banq.payloads import parse_payment
from banq.settlement import payment_apply
from orders.access import order_signed_url
from orders.admin_selectors import order_needs_attention_q
from orders.models import Installment, Order, OrderEvent, OrderFlag, Subscription
from orders.notifications import order_status_payload
from orders.services.cancellation import subscription_cancel, subscription_stop_confirm
from orders.services.refunds import order_refund_record
from tests.banq.test_installments import item, payment, plan_order
from tests.support.banq_api import PAYMENT_ID, banq_api_url

pytestmark = pytest.mark.django_db

CANCEL_PATH = f"/payments/{PAYMENT_ID}/cancel"
SUBSCRIPTIONS_URL = "/admin/orders/subscription/"
Stop = Subscription.Stop


def active_plan() -> tuple[Order, Subscription]:
    """A monthly plan of 12 whose first payment banq confirmed."""
    order, subscription = plan_order()
    payment_apply(remote=parse_payment(payment(order, subscription, item(subscription, 0))))
    order.refresh_from_db()
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.ACTIVE
    return order, subscription


@pytest.fixture
def paid_plan(run_tasks, mailoutbox) -> tuple[Order, Subscription]:
    """``active_plan()``, its payment's e-mail sent and out of the way."""
    found = active_plan()
    run_tasks()
    mailoutbox.clear()
    return found


def banq_stops(banq_api, status: int = 200) -> None:
    body = {"data": {"id": PAYMENT_ID}} if status < 400 else {"error": {"code": "not_found"}}
    banq_api.add("POST", banq_api_url(CANCEL_PATH), json=body, status=status)


def cancel_url(order: Order) -> str:
    return order_signed_url(order=order).replace("?", "cancel-plan?", 1)


def plan_lines(order: Order) -> list[str]:
    return list(
        order.history.filter(kind=OrderEvent.Kind.PLAN)
        .order_by("pk")
        .values_list("message", flat=True)
    )


def test_the_shopper_cancels_the_plan_and_banq_stops_charging_it(
    paid_plan, client, banq_api, mailoutbox, run_tasks
):
    order, subscription = paid_plan
    banq_stops(banq_api)

    response = client.post(cancel_url(order))
    run_tasks()

    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.CANCELLED
    assert subscription.cancelled_by == "the shopper"
    assert (subscription.next_number, subscription.next_due_date) == (None, None)
    assert subscription.provider_stop == Stop.STOPPED
    assert subscription.provider_stopped_at is not None
    lines = plan_lines(order)
    assert len(lines) == 2
    assert lines[0].startswith("Plan cancelled by the shopper")
    assert lines[1] == f"banq stopped charging payment {PAYMENT_ID}."
    assert json.loads(banq_api.calls[-1].request.body) == {}
    assert [m.subject.split(": ", 1)[1] for m in mailoutbox] == [
        f"your plan is cancelled (order {order.number})"
    ]
    assert not OrderFlag.objects.filter(order=order).exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID  # its payments were received
    page = client.get(order_signed_url(order=order)).content.decode()
    assert "Your plan is cancelled: no further payments will be taken." in page
    assert "This plan is cancelled" in page
    assert "Cancel this plan" not in page
    plan = order_status_payload(order)["plan"]
    assert plan["cancelled"] is True
    assert plan["next_text"].startswith("The plan was cancelled on")


def test_the_order_page_asks_for_a_confirmation_before_cancelling(client):
    order, _ = active_plan()

    page = client.get(order_signed_url(order=order)).content.decode()

    assert "<summary>Cancel this plan</summary>" in page
    assert "Yes, cancel my plan" in page
    assert f'action="/orders/{order.public_id}/cancel-plan?key=' in page


def test_a_stranger_cannot_cancel_a_plan(client):
    order, subscription = active_plan()

    response = client.post(f"/orders/{order.public_id}/cancel-plan")
    as_json = client.post(
        f"/orders/{order.public_id}/cancel-plan?key=forged", HTTP_ACCEPT="application/json"
    )

    assert response.status_code == 404
    assert as_json.status_code == 404
    assert as_json.json()["error"]["code"] == "not_found"
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.ACTIVE


def test_a_get_cannot_cancel_a_plan(client):
    order, subscription = active_plan()

    response = client.get(cancel_url(order))

    assert response.status_code == 405
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.ACTIVE


def test_a_plan_not_paid_yet_is_not_cancelled_here(client, mailoutbox, run_tasks):
    order, subscription = plan_order()

    response = client.post(cancel_url(order), HTTP_ACCEPT="application/json")
    run_tasks()

    assert response.status_code == 409
    body = response.json()
    assert body["plan_cancel"]["result"] == "not_allowed"
    assert "Cancel the order instead" in body["plan_cancel"]["message"]
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.PENDING
    assert not mailoutbox


def test_cancelling_as_json_answers_the_status_with_the_outcome(client, banq_api):
    order, _ = active_plan()
    banq_stops(banq_api)

    response = client.post(cancel_url(order), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    body = response.json()
    assert body["plan_cancel"]["result"] == "cancelled"
    assert body["plan"]["state"] == "cancelled"
    assert body["status"] == "paid"


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (404, "banq does not offer stopping payment"),
        (409, "banq refused to stop payment"),
        (503, "banq could not be reached"),
        (requests.ConnectionError("down"), "banq could not be reached"),
    ],
)
def test_when_banq_cannot_stop_the_plan_the_order_is_flagged_until_the_merchant_confirms(
    paid_plan, banq_api, answer, words, mailoutbox, run_tasks
):
    order, subscription = paid_plan
    if isinstance(answer, Exception):
        banq_api.add("POST", banq_api_url(CANCEL_PATH), body=answer)
    else:
        for _ in range(3 if answer == 503 else 1):  # 5xx is retried by the client
            banq_stops(banq_api, status=answer)
    banq_api.assert_all_requests_are_fired = False

    done = subscription_cancel(order=order, source=OrderEvent.Source.ADMIN, actor="merchant")
    run_tasks()

    assert not done.stop.stopped
    assert words in done.stop.message
    assert "stop the plan's recurring payment in banq's dashboard" in done.stop.message
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.CANCELLED
    assert subscription.provider_stop == Stop.MANUAL
    flag = OrderFlag.objects.get(order=order, kind=OrderFlag.Kind.PLAN_STOP_NEEDED)
    assert flag.resolved_at is None
    assert Order.objects.filter(order_needs_attention_q(), pk=order.pk).exists()
    assert len(mailoutbox) == 1  # the shopper's plan is cancelled all the same

    assert subscription_stop_confirm(order=order, actor="merchant")
    assert not subscription_stop_confirm(order=order, actor="merchant")  # once

    flag.refresh_from_db()
    subscription.refresh_from_db()
    assert flag.resolved_at is not None
    assert subscription.provider_stop == Stop.CONFIRMED
    assert "merchant confirmed the plan is stopped in banq's dashboard" in plan_lines(order)[-1]
    assert not Order.objects.filter(order_needs_attention_q(), pk=order.pk).exists()
    assert len(mailoutbox) == 1


def test_cancelling_again_asks_banq_again_without_a_second_email(
    paid_plan, banq_api, mailoutbox, run_tasks
):
    order, subscription = paid_plan
    banq_stops(banq_api, status=404)
    subscription_cancel(order=order, source=OrderEvent.Source.ADMIN, actor="merchant")
    banq_stops(banq_api)

    done = subscription_cancel(order=order, source=OrderEvent.Source.ADMIN, actor="merchant")
    run_tasks()

    assert done.stop.stopped
    subscription.refresh_from_db()
    assert subscription.provider_stop == Stop.STOPPED
    assert OrderFlag.objects.get(kind=OrderFlag.Kind.PLAN_STOP_NEEDED).resolved_at is not None
    assert len(mailoutbox) == 1
    with pytest.raises(Exception, match="already cancelled and stopped"):
        subscription_cancel(order=order, source=OrderEvent.Source.ADMIN, actor="merchant")


def test_an_installment_charged_after_the_cancellation_is_flagged_for_a_refund_and_told(
    paid_plan, banq_api, mailoutbox, run_tasks, client
):
    order, subscription = paid_plan
    banq_stops(banq_api)
    subscription_cancel(order=order, source=OrderEvent.Source.SHOPPER)
    run_tasks()
    mailoutbox.clear()
    subscription.refresh_from_db()

    remote = parse_payment(
        payment(order, subscription, item(subscription, 0), item(subscription, 1))
    )
    outcome = payment_apply(remote=remote, source="webhook")
    again = payment_apply(remote=remote, source="webhook")  # a redelivery: nothing new
    run_tasks()

    assert [o.result for o in outcome.installments] == ["after_cancel"]
    assert again.installments == ()
    late = Installment.objects.get(subscription=subscription, number=1)
    assert late.status == Installment.Status.PAID
    flag = OrderFlag.objects.get(order=order, kind=OrderFlag.Kind.INSTALLMENT_UNEXPECTED)
    assert "after the plan was cancelled" in flag.note
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.CANCELLED  # nothing is expected after it
    assert subscription.next_due_date is None
    assert len(mailoutbox) == 1
    assert "taken after your plan was cancelled: it will be refunded" in mailoutbox[0].subject
    assert "we will refund it to you" in mailoutbox[0].body
    text = order_status_payload(order)["installments"][-1]["text"]
    assert "after the plan was cancelled: it will be refunded to you" in text
    page = client.get(order_signed_url(order=order)).content.decode()
    assert "after the plan was cancelled: it will be refunded to you" in page

    order_refund_record(
        order=order,
        amount="9.90",
        reason="Charged after cancel",
        actor="m",
        payment=f"installment-{late.pk}",
    )

    flag.refresh_from_db()
    assert flag.resolved_at is not None
    assert order_status_payload(order)["installments"][-1]["text"].endswith(
        "after the plan was cancelled: refunded."
    )


def test_the_merchant_cancels_plans_and_confirms_them_stopped_in_the_admin(
    paid_plan, admin_client, banq_api, mailoutbox, run_tasks
):
    order, subscription = paid_plan
    banq_stops(banq_api, status=404)

    response = admin_client.post(
        SUBSCRIPTIONS_URL,
        {"action": "cancel_plans", "_selected_action": [subscription.pk]},
        follow=True,
    )
    run_tasks()

    text = response.content.decode()
    assert "plan cancelled, but NOT stopped at the payment provider" in text
    assert "stop the plan&#x27;s recurring payment in banq&#x27;s dashboard" in text
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.CANCELLED
    assert subscription.cancelled_by == "admin"
    assert len(mailoutbox) == 1
    assert "Plan cancelled by admin" in plan_lines(order)[0]

    confirmed = admin_client.post(
        SUBSCRIPTIONS_URL,
        {"action": "confirm_stopped", "_selected_action": [subscription.pk]},
        follow=True,
    )

    assert f"Confirmed stopped: {order.number}." in confirmed.content.decode()
    subscription.refresh_from_db()
    assert subscription.provider_stop == Stop.CONFIRMED
    listing = admin_client.get(SUBSCRIPTIONS_URL).content.decode()
    assert "Stopped in the provider" in listing
    schedule = admin_client.get(f"{SUBSCRIPTIONS_URL}{subscription.pk}/change/").content.decode()
    assert "The plan was cancelled on" in schedule
    assert "not due: the plan was cancelled" in schedule


def test_a_staff_member_who_may_only_view_cannot_cancel_plans(client, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_order", "view_subscription"])
    )
    client.force_login(viewer)
    order, subscription = active_plan()

    page = client.get(SUBSCRIPTIONS_URL).content.decode()
    client.post(
        SUBSCRIPTIONS_URL, {"action": "cancel_plans", "_selected_action": [subscription.pk]}
    )

    assert "cancel_plans" not in page
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.ACTIVE
    assert not order.history.filter(kind=OrderEvent.Kind.PLAN).exists()


def test_a_failed_charge_after_the_cancellation_is_flagged_without_telling_the_shopper(
    paid_plan, banq_api, mailoutbox, run_tasks
):
    order, subscription = paid_plan
    banq_stops(banq_api)
    subscription_cancel(order=order, source=OrderEvent.Source.SHOPPER)
    run_tasks()
    mailoutbox.clear()
    subscription.refresh_from_db()
    failed = item(subscription, 1, status="failed", fail_reason="InsufficientBalance")

    outcome = payment_apply(
        remote=parse_payment(payment(order, subscription, item(subscription, 0), failed))
    )
    run_tasks()

    assert [o.result for o in outcome.installments] == ["after_cancel"]
    row = Installment.objects.get(subscription=subscription, number=1)
    assert row.status == Installment.Status.FAILED
    flag = OrderFlag.objects.get(order=order, kind=OrderFlag.Kind.INSTALLMENT_UNEXPECTED)
    assert "attempted after the plan was cancelled" in flag.note
    assert not mailoutbox  # nothing was taken
    assert len(order_status_payload(order)["installments"]) == 1  # nor shown to the shopper


@pytest.mark.django_db(transaction=True)
def test_two_cancels_at_once_cancel_once_with_one_email(
    banq_api, mailoutbox, run_tasks, monkeypatch
):
    """The shopper and the merchant cancel at the same moment: the order's lock makes one of
    them cancel (one history line, one e-mail); the other finds it cancelled."""
    import threading
    import time

    from django.db import connection

    from orders.services import cancellation

    real_words = cancellation.day_words

    def slow_words(value):
        time.sleep(0.3)  # inside the cancel: without the lock, both would be past the check
        return real_words(value)

    monkeypatch.setattr(cancellation, "day_words", slow_words)

    order, subscription = active_plan()
    run_tasks()
    mailoutbox.clear()
    banq_stops(banq_api)
    banq_api.assert_all_requests_are_fired = False
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def cancel(source: str) -> None:
        barrier.wait()
        try:
            subscription_cancel(order=Order.objects.get(pk=order.pk), source=source)
            outcomes.append("cancelled")
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcomes.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=cancel, args=(source,))
        for source in (OrderEvent.Source.SHOPPER, OrderEvent.Source.ADMIN)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run_tasks()

    assert set(outcomes) <= {"cancelled", "PlanCancelError"}
    assert "cancelled" in outcomes
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.CANCELLED
    assert subscription.provider_stop == Stop.STOPPED
    assert sum(line.startswith("Plan cancelled by") for line in plan_lines(order)) == 1
    assert len(mailoutbox) == 1
