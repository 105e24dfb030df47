"""banq.outcomes: every Settlement verdict carries its meaning, and every reader takes it there."""

from __future__ import annotations

import logging

import pytest
from django.contrib import messages

from banq.management.commands.banq_reconcile import SUMMARY_KEYS
from banq.models import BanqPayment
from banq.outcomes import PAID_OUTCOMES, Settlement, Severity, settlement_recorded
from orders.models import Order
from webhooks.models import WebhookEvent


@pytest.mark.parametrize("verdict", list(Settlement))
def test_every_verdict_has_a_whole_meaning(verdict):
    meaning = verdict.meaning

    assert meaning.transition in ("", Order.Status.PAID, Order.Status.FAILED)
    assert meaning.event_state in WebhookEvent.State.values
    assert meaning.tally in SUMMARY_KEYS
    assert meaning.shopper.endswith(".")
    assert meaning.admin


@pytest.mark.parametrize("verdict", list(Settlement))
def test_the_log_and_the_admin_agree_on_severity(verdict):
    meaning = verdict.meaning

    warned = meaning.log_level == logging.WARNING
    flagged = meaning.message_level == messages.WARNING

    assert warned == flagged == (meaning.severity == Severity.ATTENTION)


def test_only_a_verified_payment_leads_to_paid_and_the_paid_outcomes_are_the_money_received():
    leading_to_paid = [v for v in Settlement if v.meaning.transition == Order.Status.PAID]

    assert leading_to_paid == [Settlement.PAID]
    assert set(PAID_OUTCOMES) == {
        Settlement.PAID,
        Settlement.ALREADY_PAID,
        Settlement.PAID_TWICE,
    }
    assert Settlement.REJECTED.meaning.event_state == WebhookEvent.State.REJECTED
    assert Settlement.ALREADY_PAID.meaning.event_state == WebhookEvent.State.DUPLICATE


def test_a_shared_answer_counts_as_the_attempt_s_recorded_status():
    assert settlement_recorded(BanqPayment.Status.COMPLETED) == Settlement.ALREADY_PAID
    assert settlement_recorded(BanqPayment.Status.FAILED) == Settlement.FAILED_ELSEWHERE
    assert settlement_recorded(BanqPayment.Status.REJECTED) == Settlement.REJECTED
    assert settlement_recorded(BanqPayment.Status.CREATED) == Settlement.NOT_COMPLETED
