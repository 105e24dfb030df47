"""Recurring payments: installments as transactions with their own webhooks, the end date, the
installment clock, and the schedule dates."""

from __future__ import annotations

from datetime import date

import pytest
import requests

from banq_emulator.schedule import installment_date
from tests.emulator.conftest import auth, create_link, get_token
from tests.support.emulator import EmulatorHandle, start_emulator, stop_emulator
from tests.support.wait import wait_for

MONTHLY = {"frequency": "monthly", "startDate": "2030-01-31", "endDate": "2030-04-30"}


def _payment(emulator, token: str, payment_id: str) -> dict:
    response = requests.get(
        f"{emulator.api_url}/payments/{payment_id}", headers=auth(token), timeout=5
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _next(emulator, payment_id: str, body: dict | None = None) -> requests.Response:
    return requests.post(
        f"{emulator.control_url}/payments/{payment_id}/next-installment", json=body, timeout=5
    )


@pytest.fixture
def monthly(banq_emulator, api_token) -> str:
    response = create_link(banq_emulator, api_token, **MONTHLY)
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


# -- schedule dates (no emulator needed) --------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "frequency", "n", "due"),
    [
        (date(2030, 1, 31), "monthly", 0, date(2030, 1, 31)),
        (date(2030, 1, 31), "monthly", 1, date(2030, 2, 28)),
        (date(2028, 1, 31), "monthly", 1, date(2028, 2, 29)),
        (date(2030, 1, 31), "monthly", 2, date(2030, 3, 31)),  # from the start, not chained
        (date(2030, 1, 31), "monthly", 3, date(2030, 4, 30)),
        (date(2030, 1, 31), "monthly", 11, date(2030, 12, 31)),
        (date(2030, 1, 31), "monthly", 13, date(2031, 2, 28)),
        (date(2030, 11, 15), "monthly", 2, date(2031, 1, 15)),
        (date(2028, 2, 29), "yearly", 1, date(2029, 2, 28)),
        (date(2028, 2, 29), "yearly", 4, date(2032, 2, 29)),
        (date(2030, 6, 1), "yearly", 2, date(2032, 6, 1)),
        (date(2030, 12, 30), "weekly", 1, date(2031, 1, 6)),
        (date(2030, 1, 1), "weekly", 52, date(2030, 12, 31)),
    ],
)
def test_installment_dates(start, frequency, n, due):
    assert installment_date(start, frequency, n) == due


def test_a_one_time_payment_has_no_second_installment_date():
    with pytest.raises(ValueError, match="no installments"):
        installment_date(date(2030, 1, 1), "once", 1)


# -- over HTTP ----------------------------------------------------------------------------------


@pytest.mark.integration
def test_paying_a_recurring_payment_charges_installment_zero(banq_emulator, api_token, monthly):
    created = _payment(banq_emulator, api_token, monthly)
    banq_emulator.complete(monthly)
    paid = _payment(banq_emulator, api_token, monthly)

    assert created["transactions"] == []
    assert created["nextInstallmentDate"] == "2030-01-31"
    assert paid["status"] == "completed"
    (first,) = paid["transactions"]
    assert first["installment"] == 0
    assert first["scheduledDate"] == "2030-01-31"
    assert first["status"] == "completed"
    assert first["completedAt"]
    assert first["guid"] == banq_emulator.payment(monthly)["transactionGuid"]
    assert paid["nextInstallmentDate"] == "2030-02-28"


@pytest.mark.integration
def test_next_installment_is_a_new_transaction_with_its_own_webhook(
    banq_emulator, api_token, receiver, monthly
):
    banq_emulator.set_webhook_config(receiver.url)
    banq_emulator.complete(monthly)
    banq_emulator.wait_for_deliveries(2)

    response = _next(banq_emulator, monthly)
    deliveries = banq_emulator.wait_for_deliveries(3)
    transaction = response.json()["data"]
    read = requests.get(
        f"{banq_emulator.api_url}/transactions/{transaction['guid']}",
        headers=auth(api_token),
        timeout=5,
    )
    payment = _payment(banq_emulator, api_token, monthly)

    assert response.status_code == 200
    assert read.status_code == 200
    assert read.json()["data"] == transaction
    assert transaction["paymentGuid"] == monthly
    assert transaction["externalOrderCode"] == "ORD-42"
    assert transaction["status"] == "completed"
    assert transaction["funds"] == 19.9
    assert '"funds": 19.90' in read.text
    assert transaction["failReason"] is None
    assert transaction["installment"] == 1
    assert transaction["scheduledDate"] == "2030-02-28"
    assert transaction["completedAt"]
    assert [t["guid"] for t in payment["transactions"]][1] == transaction["guid"]
    assert payment["nextInstallmentDate"] == "2030-03-31"
    assert payment["status"] == "completed"
    assert receiver.received[-1]["resourceType"] == "Transaction"
    assert receiver.received[-1]["action"] == "completed"
    assert receiver.received[-1]["resourceId"] == transaction["guid"]
    assert deliveries[-1]["status"] == "delivered"


@pytest.mark.integration
def test_a_failed_installment_carries_banqs_reason(banq_emulator, api_token, receiver, monthly):
    banq_emulator.set_webhook_config(receiver.url, types=("transaction",))
    banq_emulator.complete(monthly)

    default = banq_emulator.next_installment(monthly, fail=True)
    chosen = banq_emulator.next_installment(monthly, fail=True, reason="TierPlanLimits")
    receiver.wait_for(3)
    payment = _payment(banq_emulator, api_token, monthly)

    assert (default["status"], default["failReason"]) == ("failed", "InsufficientBalance")
    assert (chosen["status"], chosen["failReason"]) == ("failed", "TierPlanLimits")
    assert [t["status"] for t in payment["transactions"]] == ["completed", "failed", "failed"]
    assert payment["transactions"][2]["failReason"] == "TierPlanLimits"
    assert payment["status"] == "completed"  # the payment stays paid; the installment failed
    # Each charge has its own delivery thread: back-to-back events may arrive in any order.
    assert sorted(e["action"] for e in receiver.received) == ["completed", "failed", "failed"]


@pytest.mark.integration
def test_no_installment_after_the_end_date(banq_emulator, api_token, monthly):
    banq_emulator.complete(monthly)
    dates = [banq_emulator.next_installment(monthly)["scheduledDate"] for _ in range(3)]

    refused = _next(banq_emulator, monthly)
    payment = _payment(banq_emulator, api_token, monthly)

    assert dates == ["2030-02-28", "2030-03-31", "2030-04-30"]
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "schedule_ended"
    assert len(payment["transactions"]) == 4
    assert payment["nextInstallmentDate"] is None


@pytest.mark.integration
def test_next_installment_is_refused_for_one_time_unpaid_and_failed_payments(
    banq_emulator, api_token, payment_id, monthly
):
    failed = create_link(banq_emulator, api_token, frequency="weekly").json()["data"]["id"]
    banq_emulator.fail(failed)
    banq_emulator.complete(payment_id)

    one_time = _next(banq_emulator, payment_id)
    unpaid = _next(banq_emulator, monthly)
    declined = _next(banq_emulator, failed)
    unknown = _next(banq_emulator, "00000000-0000-4000-8000-000000000000")

    assert (one_time.status_code, one_time.json()["error"]["code"]) == (409, "not_recurring")
    assert (unpaid.status_code, unpaid.json()["error"]["code"]) == (409, "not_paid")
    assert (declined.status_code, declined.json()["error"]["code"]) == (409, "not_paid")
    assert unknown.status_code == 404
    assert "transactions" not in _payment(banq_emulator, api_token, payment_id)


@pytest.mark.integration
@pytest.mark.parametrize(
    "body", [{"fail": "yes"}, {"fail": True, "reason": "NoSuchReason"}, {"reason": "Nope"}]
)
def test_next_installment_validates_its_body(banq_emulator, monthly, body):
    banq_emulator.complete(monthly)

    response = _next(banq_emulator, monthly, body)

    assert response.status_code == 400
    assert len(banq_emulator.payment(monthly)["transactions"]) == 1


@pytest.mark.integration
def test_start_date_defaults_to_the_day_it_was_paid(banq_emulator, api_token):
    payment_id = create_link(banq_emulator, api_token, frequency="weekly").json()["data"]["id"]
    banq_emulator.complete(payment_id)
    payment = _payment(banq_emulator, api_token, payment_id)

    paid_on = date.fromisoformat(payment["completedAt"][:10])
    assert payment["recurrence"]["startDate"] is None
    assert payment["transactions"][0]["scheduledDate"] == paid_on.isoformat()
    assert payment["nextInstallmentDate"] == installment_date(paid_on, "weekly", 1).isoformat()


@pytest.mark.integration
def test_installment_webhooks_go_through_the_delivery_faults(banq_emulator, receiver, monthly):
    banq_emulator.set_webhook_config(receiver.url, types=("transaction",))
    banq_emulator.complete(monthly)
    banq_emulator.wait_for_deliveries(1)
    banq_emulator.set_faults(duplicate_deliveries=2)

    transaction = banq_emulator.next_installment(monthly)
    deliveries = banq_emulator.wait_for_deliveries(4)

    copies = [d for d in deliveries if d["resourceId"] == transaction["guid"]]
    assert [d["duplicate"] for d in copies] == [False, True, True]
    assert len({d["eventId"] for d in copies}) == 1
    assert len(receiver.received) == 4

    banq_emulator.set_faults(duplicate_deliveries=0, drop_deliveries=1.0)
    dropped = banq_emulator.next_installment(monthly)
    deliveries = banq_emulator.wait_for_deliveries(5)

    assert [d["status"] for d in deliveries if d["resourceId"] == dropped["guid"]] == ["dropped"]
    assert len(receiver.received) == 4


@pytest.mark.integration
def test_the_installment_clock_fires_installments_until_the_end_date(
    banq_emulator, api_token, receiver, monthly
):
    banq_emulator.set_webhook_config(receiver.url, types=("transaction",))
    banq_emulator.complete(monthly)

    assert banq_emulator.set_installment_clock(0.05) == {"seconds": 0.05}
    payment = wait_for(
        lambda: (
            (p := _payment(banq_emulator, api_token, monthly))["nextInstallmentDate"] is None and p
        ),
        timeout=5,
        what="the clock to reach the end date",
    )
    receiver.wait_for(4)

    assert [t["scheduledDate"] for t in payment["transactions"]] == [
        "2030-01-31",
        "2030-02-28",
        "2030-03-31",
        "2030-04-30",
    ]
    assert all(t["status"] == "completed" for t in payment["transactions"])
    assert sorted(e["resourceId"] for e in receiver.received) == sorted(
        t["guid"] for t in payment["transactions"]
    )


@pytest.mark.integration
def test_the_clock_can_be_cleared_and_reset_turns_it_off(banq_emulator, api_token):
    banq_emulator.set_installment_clock(30)
    state_clock = banq_emulator.state()["installmentClock"]
    cleared = banq_emulator.set_installment_clock(None)
    banq_emulator.set_installment_clock(30)
    banq_emulator.reset()

    assert state_clock == {"seconds": 30}
    assert cleared == {"seconds": None}
    assert banq_emulator.state()["installmentClock"] == {"seconds": None}
    bad = requests.post(
        f"{banq_emulator.control_url}/installment-clock", json={"seconds": -1}, timeout=5
    )
    assert bad.status_code == 400


@pytest.mark.integration
def test_installment_clock_option_at_start_up():
    process, url = start_emulator("--installment-clock", "0.05")
    try:
        handle = EmulatorHandle(url, process)
        token = get_token(handle)
        payment_id = create_link(
            handle, token, frequency="yearly", startDate="2028-02-29", endDate="2031-03-01"
        ).json()["data"]["id"]
        handle.complete(payment_id)
        payment = wait_for(
            lambda: (p := _payment(handle, token, payment_id))["nextInstallmentDate"] is None and p,
            timeout=5,
            what="the yearly installments",
        )
        clock = handle.state()["installmentClock"]
    finally:
        stop_emulator(process)

    assert clock == {"seconds": 0.05}
    assert [t["scheduledDate"] for t in payment["transactions"]] == [
        "2028-02-29",
        "2029-02-28",
        "2030-02-28",
        "2031-02-28",
    ]


@pytest.mark.integration
def test_dashboard_offers_next_and_fail_next(banq_emulator, monthly):
    banq_emulator.complete(monthly)

    page = requests.get(f"{banq_emulator.url}/_emulator/", timeout=5).text
    fail_next = requests.post(
        f"{banq_emulator.control_url}/payments/{monthly}/next-installment",
        data={"fail": "true", "reason": "TierPlanLimits"},
        allow_redirects=False,
        timeout=5,
    )
    plain_next = requests.post(
        f"{banq_emulator.control_url}/payments/{monthly}/next-installment",
        data={"fail": "false"},
        allow_redirects=False,
        timeout=5,
    )

    assert f"/payments/{monthly}/next-installment" in page
    assert "Next installment (2030-02-28)" in page
    assert "Fail next" in page
    assert fail_next.status_code == 303
    assert plain_next.status_code == 303
    statuses = [t["status"] for t in banq_emulator.payment(monthly)["transactions"]]
    assert statuses == ["completed", "failed", "completed"]


def _cancel(emulator, token: str, payment_id: str) -> requests.Response:
    return requests.post(
        f"{emulator.api_url}/payments/{payment_id}/cancel", json={}, headers=auth(token), timeout=5
    )


def test_a_cancelled_recurring_payment_charges_nothing_more(banq_emulator, api_token, monthly):
    banq_emulator.complete(monthly)
    assert _next(banq_emulator, monthly).status_code == 200

    first = _cancel(banq_emulator, api_token, monthly)
    again = _cancel(banq_emulator, api_token, monthly)  # idempotent
    refused = _next(banq_emulator, monthly)

    assert first.status_code == 200, first.text
    assert again.status_code == 200
    assert first.json()["data"]["cancelledAt"] == again.json()["data"]["cancelledAt"]
    seen = _payment(banq_emulator, api_token, monthly)
    assert seen["cancelledAt"]
    assert seen["nextInstallmentDate"] is None
    assert len(seen["transactions"]) == 2
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "cancelled"


def test_a_forced_charge_after_the_cancel_models_one_already_under_way(
    banq_emulator, api_token, monthly
):
    banq_emulator.complete(monthly)
    _cancel(banq_emulator, api_token, monthly)

    forced = _next(banq_emulator, monthly, {"force": True})

    assert forced.status_code == 200, forced.text
    assert forced.json()["data"]["installment"] == 1
    assert _next(banq_emulator, monthly, {"force": "yes"}).status_code == 400


def test_cancel_needs_a_token_and_refuses_unknown_and_one_time_payments(
    banq_emulator, api_token, payment_id
):
    unknown = _cancel(banq_emulator, api_token, "00000000-0000-4000-8000-000000000000")
    one_time = _cancel(banq_emulator, api_token, payment_id)
    anonymous = requests.post(f"{banq_emulator.api_url}/payments/{payment_id}/cancel", timeout=5)

    assert unknown.status_code == 404
    assert unknown.json()["error"] == {"code": "payment_not_found", "message": "Unknown payment"}
    assert one_time.status_code == 409
    assert one_time.json()["error"]["code"] == "not_recurring"
    assert anonymous.status_code == 401
