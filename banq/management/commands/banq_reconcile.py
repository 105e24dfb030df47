"""``manage.py banq_reconcile``: ask banq about orders whose payment may have been missed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from banq.client import get_banq_client
from banq.exceptions import BanqAuthError, BanqConfigError, BanqError, BanqUnavailable
from banq.installments import installment_ordinal
from banq.lookups import Answer, attempt_lookup
from banq.models import BanqPayment
from banq.outcomes import PAID_OUTCOMES, Settlement, settlement_recorded
from banq.selectors import orders_to_reconcile
from banq.settings import banq_settings, parse_duration
from banq.settlement import PaymentOutcome, payment_preview
from orders.models import OrderEvent

SUMMARY_KEYS = ("paid", "already paid", "still open", "failed", "rejected", "other", "errors")


class Command(BaseCommand):
    help = (
        "Reconcile with banq: for orders awaiting payment, and orders of any status (failed, "
        "expired, cancelled too) with a payment link banq could still complete, created more "
        "than --older-than ago, re-fetch each open attempt's payment from banq and apply banq's "
        "answer through the same locked service and the same evaluation as the webhooks, so a "
        "payment is applied exactly once whoever sees it first, and --dry-run reports exactly "
        "what a real run would do. The worker's sweep already does this on a schedule; this "
        "command is for an operator (or cron, optionally). Safe to run beside the worker and "
        "itself: a payment someone is asking banq about right now is waited for and its answer "
        "shared. Exit status 1 when banq can't be reached or refuses a look-up."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            dest="older_than",
            default="15m",
            help="Only orders created before this long ago: 30s, 15m, 2h, 1d (default 15m).",
        )
        parser.add_argument(
            "--order",
            dest="order",
            default=None,
            metavar="NUMBER",
            help="Only this order (any status and age).",
        )
        parser.add_argument(
            "--dry-run",
            dest="dry_run",
            action="store_true",
            help="Fetch banq's answers and print what would happen; apply nothing.",
        )

    def handle(self, *args, **options) -> None:
        try:
            older_than = parse_duration(options["older_than"], name="--older-than")
        except BanqConfigError as exc:
            raise CommandError(str(exc)) from None
        number = (options["order"] or "").strip() or None
        config = banq_settings()
        self.stdout.write(f"banq: {config.environment} ({config.api_url})")
        self._run(older_than=older_than, number=number, dry_run=options["dry_run"])

    def _run(self, *, older_than: timedelta, number: str | None, dry_run: bool) -> None:
        candidates = orders_to_reconcile(older_than=older_than, number=number)
        if number and not candidates:
            raise CommandError(f"No order {number}.")
        tally = _Tally(dry_run=dry_run)
        not_reconcilable = [c for c in candidates if not c.attempts]
        for candidate in candidates:
            if not candidate.attempts or tally.unreachable:
                continue
            tally.checked += 1
            for attempt in candidate.attempts:
                where = f"{candidate.order.number} (banq payment {attempt.banq_payment_id})"
                ask = self._preview if dry_run else self._apply
                stop = ask(where=where, attempt=attempt, tally=tally)
                if stop or tally.unreachable:
                    break  # the order is paid (its other attempts don't matter), or banq is down

        for candidate in not_reconcilable:
            self.stdout.write(f"{candidate.order.number}: not reconcilable: {candidate.reason}")
        self.stdout.write(tally.summary(dry_run=dry_run, not_reconcilable=len(not_reconcilable)))
        if tally.unreachable:
            raise CommandError(
                f"banq can't be reached right now, or refused us ({tally.unreachable}); nothing "
                "changed for the orders it could not be asked about. Try again later."
            )
        if tally.counts["errors"]:
            raise CommandError(f"{tally.counts['errors']} look-up(s) failed.")

    def _preview(self, *, where: str, attempt: BanqPayment, tally: _Tally) -> bool:
        """``--dry-run``: fetch banq's answer and say what applying it would do."""
        try:
            remote = get_banq_client().get_payment(attempt.banq_payment_id)
        except BanqError as exc:
            self._failed(where=where, exc=exc, tally=tally)
            return False
        outcome = payment_preview(remote=remote)
        self._report(where=where, result=outcome.result, reason=outcome.reason, tally=tally)
        self._installments(outcome=outcome, tally=tally, dry_run=True)
        return outcome.result in PAID_OUTCOMES

    def _apply(self, *, where: str, attempt: BanqPayment, tally: _Tally) -> bool:
        """Ask banq (``banq.lookups``: a look-up in flight elsewhere is waited for and shared)
        and apply its answer."""
        lookup = attempt_lookup(
            attempt=attempt,
            source=OrderEvent.Source.RECONCILE,
            wait=banq_settings().request_budget,
        )
        if lookup.answer == Answer.BUSY:
            tally.busy += 1
            self.stdout.write(f"{where}: another look-up is still waiting for banq; not asked")
            return False
        if lookup.answer == Answer.UNREACHABLE:
            self._failed(where=where, exc=lookup.error or BanqUnavailable(), tally=tally)
            return False
        if lookup.outcome is None:  # answered by the look-up in flight that we waited for
            result = settlement_recorded(lookup.attempt.status)
            self._report(where=where, result=result, reason="asked by another look-up", tally=tally)
            return result in PAID_OUTCOMES
        outcome = lookup.outcome
        self._report(where=where, result=outcome.result, reason=outcome.reason, tally=tally)
        self._installments(outcome=outcome, tally=tally, dry_run=False)
        return outcome.result in PAID_OUTCOMES

    def _failed(self, *, where: str, exc: BanqError, tally: _Tally) -> None:
        tally.counts["errors"] += 1
        if isinstance(exc, BanqUnavailable | BanqAuthError | BanqConfigError):
            tally.unreachable = f"{type(exc).__name__}: {exc}"
            self.stderr.write(
                f"{where}: banq could not be asked (banq can't be reached right now): {exc}"
            )
        else:
            self.stderr.write(f"{where}: {exc}")

    def _report(self, *, where: str, result: Settlement, reason: str, tally: _Tally) -> None:
        tally.counts[result.meaning.tally] += 1
        text = f"{where}: {'would be ' if tally.dry_run else ''}{result.label.lower()}"
        self.stdout.write(text + (f" ({reason})" if reason else ""))

    def _installments(self, *, outcome: PaymentOutcome, tally: _Tally, dry_run: bool) -> None:
        """A recurring payment's charges banq reports that the order had not recorded."""
        for charge in outcome.installments:
            tally.installments += 1
            line = (
                f"  installment {installment_ordinal(charge.number)} "
                f"(banq transaction {charge.transaction_id or '-'}"
                f"): {charge.result.label.lower()}, "
                f"{'would be recorded' if dry_run else 'recorded'}"
            )
            self.stdout.write(line + (f" ({charge.reason})" if charge.reason else ""))


@dataclass
class _Tally:
    dry_run: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    checked: int = 0
    busy: int = 0
    installments: int = 0
    unreachable: str = ""  # why banq can't be reached, once it can't

    def summary(self, *, dry_run: bool, not_reconcilable: int) -> str:
        counts = ", ".join(f"{key} {self.counts[key]}" for key in SUMMARY_KEYS)
        text = ("Dry run, nothing applied. " if dry_run else "") + (
            f"Checked {self.checked} order(s): {counts}; not reconcilable {not_reconcilable}"
        )
        if self.installments:
            text += f"; installments {'to record' if dry_run else 'recorded'} {self.installments}"
        if self.busy:
            text += f"; not asked {self.busy} (another look-up is still waiting for banq)"
        return text + "."
