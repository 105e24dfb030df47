"""``manage.py banq_reconcile``: ask banq about orders whose payment may have been missed."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from banq.client import get_banq_client
from banq.exceptions import BanqAuthError, BanqConfigError, BanqError, BanqUnavailable
from banq.installments import installment_ordinal
from banq.selectors import orders_to_reconcile
from banq.settings import banq_settings, parse_duration
from banq.settlement import (
    PAID_OUTCOMES,
    Settlement,
    attempt_claim_check,
    payment_apply,
    payment_preview,
)
from orders.models import OrderEvent

SUMMARY_KEYS = ("paid", "already paid", "still open", "failed", "rejected", "other", "errors")
COUNT_BY_RESULT = {
    Settlement.PAID: "paid",
    Settlement.ALREADY_PAID: "already paid",
    Settlement.PAID_TWICE: "already paid",
    Settlement.NOT_COMPLETED: "still open",
    Settlement.FAILED: "failed",
    Settlement.FAILED_ELSEWHERE: "failed",
    Settlement.REJECTED: "rejected",
    Settlement.CONTRADICTION: "other",
    Settlement.UNMATCHED: "errors",
}


class Command(BaseCommand):
    help = (
        "Reconcile with banq: for orders awaiting payment, and orders of any status (failed, "
        "expired, cancelled too) with a payment link banq could still complete, created more "
        "than --older-than ago, re-fetch each open attempt's payment from banq and apply banq's "
        "answer through the same locked service and the same evaluation as the webhooks, so a "
        "payment is applied exactly once whoever sees it first, and --dry-run reports exactly "
        "what a real run would do. The worker's sweep already does this on a schedule; this "
        "command is for an operator (or cron, optionally). Safe to run beside the worker and "
        "itself: a payment asked about in the last seconds is skipped. Exit status 1 when banq "
        "can't be reached or refuses a look-up."
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
        counts: Counter[str] = Counter()
        not_reconcilable = [c for c in candidates if not c.attempts]
        checked = skipped = installments = 0
        unreachable: str | None = None
        for candidate in candidates:
            if not candidate.attempts or unreachable:
                continue
            order = candidate.order
            checked += 1
            for attempt in candidate.attempts:
                where = f"{order.number} (banq payment {attempt.banq_payment_id})"
                # An order named by the operator is asked about whatever; a sweep of all orders
                # skips payments another run (or the worker) asked about a moment ago.
                if not (dry_run or number) and not attempt_claim_check(attempt=attempt):
                    skipped += 1
                    self.stdout.write(f"{where}: asked about a moment ago by another run, skipped")
                    continue
                try:
                    remote = get_banq_client().get_payment(attempt.banq_payment_id)
                except (BanqUnavailable, BanqAuthError, BanqConfigError) as exc:
                    counts["errors"] += 1
                    unreachable = f"{type(exc).__name__}: {exc}"
                    self.stderr.write(f"{where}: banq could not be asked: {exc}")
                    break
                except BanqError as exc:
                    counts["errors"] += 1
                    self.stderr.write(f"{where}: {exc}")
                    continue
                if dry_run:
                    outcome = payment_preview(remote=remote)
                else:
                    outcome = payment_apply(remote=remote, source=OrderEvent.Source.RECONCILE)
                result, reason = outcome.result, outcome.reason
                counts[COUNT_BY_RESULT.get(result, "other")] += 1
                text = f"{where}: {'would be ' if dry_run else ''}{result.label.lower()}"
                if reason:
                    text += f" ({reason})"
                self.stdout.write(text)
                # A recurring payment's charges banq reports that the order had not recorded.
                for charge in outcome.installments:
                    installments += 1
                    line = (
                        f"  installment {installment_ordinal(charge.number)} "
                        f"(banq transaction {charge.transaction_id or '-'}"
                        f"): {charge.result.label.lower()}, "
                        f"{'would be recorded' if dry_run else 'recorded'}"
                    )
                    self.stdout.write(line + (f" ({charge.reason})" if charge.reason else ""))
                if result in PAID_OUTCOMES:
                    break  # the order is paid: its other attempts don't matter now

        for candidate in not_reconcilable:
            self.stdout.write(f"{candidate.order.number}: not reconcilable: {candidate.reason}")

        summary = ", ".join(f"{key} {counts[key]}" for key in SUMMARY_KEYS)
        self.stdout.write(
            ("Dry run, nothing applied. " if dry_run else "")
            + f"Checked {checked} order(s): {summary}; "
            f"not reconcilable {len(not_reconcilable)}"
            + (
                f"; installments {'to record' if dry_run else 'recorded'} {installments}"
                if installments
                else ""
            )
            + (f"; skipped {skipped} (asked about a moment ago)" if skipped else "")
            + "."
        )
        if unreachable:
            raise CommandError(f"banq could not be reached or refused us ({unreachable}).")
        if counts["errors"]:
            raise CommandError(f"{counts['errors']} look-up(s) failed.")
