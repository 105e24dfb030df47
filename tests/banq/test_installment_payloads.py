"""banq's recurring shapes, read only in banq/payloads.py: a payment's ``transactions`` and
``nextInstallmentDate``, a transaction's ``installment`` and ``scheduledDate``. Absent fields
mean "no installment data"; money stays strict."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from banq.exceptions import BanqPayloadError
from banq.payloads import parse_payment, parse_transaction
from tests.support.banq_api import (
    installment_item,
    installment_transaction_payload,
    payment_payload,
    recurring_payment_payload,
    transaction_payload,
)

ITEMS = [
    installment_item(guid="t0", number=0, scheduled_date="2027-01-31"),
    installment_item(
        guid="t1",
        number=1,
        scheduled_date="2027-02-28",
        status="failed",
        fail_reason="InsufficientBalance",
        completed_at="2027-02-28T08:00:00Z",
    ),
]


def test_a_recurring_payment_carries_its_charges_and_next_date():
    payment = parse_payment(
        recurring_payment_payload(transactions=ITEMS, next_installment_date="2027-03-31")
    )

    assert payment.is_recurring
    assert (payment.frequency, payment.start_date) == ("monthly", date(2026, 11, 25))
    assert [(i.guid, i.number, i.status) for i in payment.installments] == [
        ("t0", 0, "completed"),
        ("t1", 1, "failed"),
    ]
    failed = payment.installments[1]
    assert failed.scheduled_date == date(2027, 2, 28)
    assert failed.fail_reason == "InsufficientBalance"
    assert failed.completed_at == datetime(2027, 2, 28, 8, tzinfo=UTC)
    assert failed.funds == Decimal("9.90")
    assert payment.next_installment_date == date(2027, 3, 31)


def test_a_one_time_payment_has_no_installment_data():
    payment = parse_payment(payment_payload(status="completed"))
    transaction = parse_transaction(transaction_payload())

    assert not payment.is_recurring
    assert payment.installments == ()
    assert payment.next_installment_date is None
    assert transaction.installment is None
    assert transaction.as_installment() is None


def test_charges_without_numbers_are_numbered_oldest_first_and_items_without_ids_skipped():
    items = [{k: v for k, v in i.items() if k != "installment"} for i in ITEMS]
    payment = parse_payment(recurring_payment_payload(transactions=[{"status": "x"}, *items]))

    assert [(i.guid, i.number) for i in payment.installments] == [("t0", 0), ("t1", 1)]


def test_an_installment_transaction_reads_as_an_installment():
    transaction = parse_transaction(
        installment_transaction_payload(ITEMS[1], external_order_code="SF-1")
    )

    charge = transaction.as_installment()
    assert charge is not None
    assert (charge.guid, charge.number, charge.external_order_code) == ("t1", 1, "SF-1")
    assert charge.scheduled_date == date(2027, 2, 28)
    assert charge.is_failed


@pytest.mark.parametrize("funds", ["9.999", "-1", "nine"])
def test_a_charge_with_an_unreadable_amount_is_refused(funds):
    bad = {**ITEMS[0], "funds": funds}
    with pytest.raises(BanqPayloadError, match="amount"):
        parse_payment(recurring_payment_payload(transactions=[bad]))


def test_an_odd_installment_number_means_none():
    odd = {**ITEMS[0], "installment": True}
    transaction = parse_transaction({"data": {"guid": "t", "status": "completed", **odd}})
    assert transaction.installment is None
