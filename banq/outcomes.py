"""What banq's word about a payment means: the ``Settlement`` verdicts and, for each, its meaning
in one place (``Settlement.meaning``): the transition it leads to, its severity (and so the log
level and the admin's message level), the shopper's wording (for a page that tells the shopper
banq's verdict in words; the confirm answer itself stays the status JSON), the admin's wording,
what a webhook event that brought it becomes, and how ``banq_reconcile`` counts it.

``banq.settlement`` decides the verdict; the webhook processor (``webhooks.services``),
``banq_reconcile``, the admin's re-check (``banq/admin.py``) and the settlement's own log line
read its meaning here, so they can't disagree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib import messages
from django.db import models

from banq.models import BanqPayment


class Severity(models.TextChoices):
    GOOD = "good", "Good news"  # money received and recorded
    INFO = "info", "Nothing to act on"
    ATTENTION = "attention", "The merchant should look"  # flagged: refund, mismatch, contradiction


@dataclass(frozen=True)
class Meaning:
    transition: str  # the order's status it leads to ("paid", "failed"), or "" for none
    severity: Severity
    shopper: str  # what the shopper is told about their payment
    admin: str  # what the merchant's re-check says (before banq's reason)
    event_state: str  # a webhook event that brought it becomes this (webhooks.models.State)
    tally: str  # banq_reconcile's count it goes in

    @property
    def log_level(self) -> int:
        return logging.WARNING if self.severity == Severity.ATTENTION else logging.INFO

    @property
    def message_level(self) -> int:
        """The admin's message level (``django.contrib.messages``)."""
        return {
            Severity.GOOD: messages.SUCCESS,
            Severity.INFO: messages.INFO,
            Severity.ATTENTION: messages.WARNING,
        }[self.severity]

    @property
    def paid(self) -> bool:
        """The order has its money (from this payment or another)."""
        return self.tally == "paid" or self.tally == "already paid"


class Settlement(models.TextChoices):
    PAID = "paid", "Paid"
    ALREADY_PAID = "already_paid", "Already paid by this payment"
    PAID_TWICE = "paid_twice", "Paid twice: refund one"
    REJECTED = "rejected", "Rejected by verification"
    FAILED = "failed", "Failed: the order's payment failed"
    FAILED_ELSEWHERE = "failed_elsewhere", "Failed, not the order's live payment"
    CONTRADICTION = "contradiction", "banq contradicts its earlier answer"
    NOT_COMPLETED = "not_completed", "Still open at banq"
    UNMATCHED = "unmatched", "No matching order"

    @property
    def meaning(self) -> Meaning:
        return MEANINGS[self]


_CONFIRMED = "Your payment is confirmed."
_NOT_CONFIRMED = "banq has not confirmed a payment yet."
_CHECKING = "We are checking your payment with the shop; nothing more is needed from you."

MEANINGS: dict[Settlement, Meaning] = {
    Settlement.PAID: Meaning("paid", Severity.GOOD, _CONFIRMED, "paid", "processed", "paid"),
    Settlement.ALREADY_PAID: Meaning(
        "", Severity.INFO, _CONFIRMED, "already paid, nothing changed", "duplicate", "already paid"
    ),
    Settlement.PAID_TWICE: Meaning(
        "",
        Severity.ATTENTION,
        "Your order is paid; a second payment reached us and will be refunded.",
        "paid twice: refund one",
        "processed",
        "already paid",
    ),
    Settlement.REJECTED: Meaning(
        "", Severity.ATTENTION, _CHECKING, "rejected by verification", "rejected", "rejected"
    ),
    Settlement.FAILED: Meaning(
        "failed",
        Severity.INFO,
        "The payment did not go through. Nothing was charged.",
        "failed (the order is now failed)",
        "processed",
        "failed",
    ),
    Settlement.FAILED_ELSEWHERE: Meaning(
        "",
        Severity.INFO,
        _NOT_CONFIRMED,
        "failed, not the order's live payment",
        "processed",
        "failed",
    ),
    Settlement.CONTRADICTION: Meaning(
        "",
        Severity.ATTENTION,
        _CHECKING,
        "banq contradicts its earlier answer, nothing changed",
        "processed",
        "other",
    ),
    Settlement.NOT_COMPLETED: Meaning(
        "", Severity.INFO, _NOT_CONFIRMED, "still open", "ignored", "still open"
    ),
    Settlement.UNMATCHED: Meaning(
        "", Severity.ATTENTION, _NOT_CONFIRMED, "no matching order", "unmatched", "errors"
    ),
}

# The outcomes that mean "the order has its money".
PAID_OUTCOMES = tuple(s for s in Settlement if s.meaning.paid)

# What an attempt's recorded status counts as, when banq's answer came from another caller's
# look-up (``banq.lookups``: shared, not re-evaluated here).
RECORDED: dict[str, Settlement] = {
    BanqPayment.Status.COMPLETED: Settlement.ALREADY_PAID,
    BanqPayment.Status.FAILED: Settlement.FAILED_ELSEWHERE,
    BanqPayment.Status.REJECTED: Settlement.REJECTED,
}


def settlement_recorded(status: str) -> Settlement:
    """The verdict an attempt's recorded ``status`` stands for (open: not completed)."""
    return RECORDED.get(status, Settlement.NOT_COMPLETED)
