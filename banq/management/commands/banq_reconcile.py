"""``manage.py banq_reconcile``: ask banq about orders still waiting for their payment."""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import timedelta

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from banq.client import get_banq_client
from banq.exceptions import BanqAuthError, BanqError, BanqUnavailable
from banq.selectors import orders_to_reconcile
from banq.settlement import (
    RESULT_ALREADY_PAID,
    RESULT_FAILED,
    RESULT_NOT_COMPLETED,
    RESULT_PAID,
    RESULT_REJECTED,
    RESULT_UNMATCHED,
    payment_recheck,
)

LOCK_KEY = "banq:reconcile:lock"
LOCK_SECONDS = 15 * 60
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([smhd])\s*$", re.IGNORECASE)
SUMMARY_KEYS = ("paid", "already paid", "still open", "failed", "rejected", "errors")
COUNT_BY_RESULT = {
    RESULT_PAID: "paid",
    RESULT_ALREADY_PAID: "already paid",
    RESULT_NOT_COMPLETED: "still open",
    RESULT_FAILED: "failed",
    RESULT_REJECTED: "rejected",
    RESULT_UNMATCHED: "errors",
}


def parse_duration(value: str) -> timedelta:
    """``30s``, ``15m``, ``2h``, ``1d`` as a ``timedelta``; ``ValueError`` for anything else."""
    match = _DURATION.match(value or "")
    if not match:
        raise ValueError(f"{value!r} is not a duration like 30s, 15m, 2h or 1d")
    return timedelta(**{UNITS[match.group(2).lower()]: int(match.group(1))})


class Command(BaseCommand):
    help = (
        "Reconcile with banq: for orders awaiting payment (and pending/failed orders with a "
        "payment link banq could still complete) created more than --older-than ago, re-fetch "
        "each open attempt's payment from banq by its stored banq payment id and apply banq's "
        "answer through banq.settlement.payment_recheck, the same locked service the webhooks "
        "use, so a payment is applied exactly once whoever sees it first. Orders without a banq "
        "payment id are listed as not reconcilable, with the reason. Prints a summary. "
        "Cron-safe: a cache lock (shared through Redis in production) skips a run while another "
        "is going on, and the service locks each order row anyway. Exit status 1 when banq can't "
        "be reached or refuses a look-up."
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
            older_than = parse_duration(options["older_than"])
        except ValueError as exc:
            raise CommandError(f"--older-than: {exc}.") from None
        number = (options["order"] or "").strip() or None
        dry_run = options["dry_run"]

        locked = False
        if not dry_run:
            locked = cache.add(LOCK_KEY, os.getpid(), LOCK_SECONDS)
            if not locked:
                self.stdout.write("Another banq_reconcile run is in progress: nothing done.")
                return
        try:
            self._run(older_than=older_than, number=number, dry_run=dry_run)
        finally:
            if locked:
                cache.delete(LOCK_KEY)

    def _run(self, *, older_than: timedelta, number: str | None, dry_run: bool) -> None:
        candidates = orders_to_reconcile(older_than=older_than, number=number)
        if number and not candidates:
            raise CommandError(f"No order {number}.")
        counts: Counter[str] = Counter()
        not_reconcilable = [c for c in candidates if not c.attempts]
        checked = 0
        unreachable: str | None = None
        client = None
        for candidate in candidates:
            if not candidate.attempts:
                continue
            if unreachable:
                break
            order = candidate.order
            checked += 1
            for attempt in candidate.attempts:
                where = f"{order.number} (banq payment {attempt.banq_payment_id})"
                try:
                    if dry_run:
                        client = client or get_banq_client()
                        remote = client.get_payment(attempt.banq_payment_id)
                        key = (
                            "paid"
                            if remote.is_completed
                            else "failed"
                            if remote.is_failed
                            else "still open"
                        )
                        counts[key] += 1
                        self.stdout.write(
                            f"{where}: banq reports {remote.status or 'unknown'} "
                            f"(funds {remote.funds}); would apply it"
                        )
                        continue
                    outcome = payment_recheck(attempt=attempt)
                except (BanqUnavailable, BanqAuthError, ImproperlyConfigured) as exc:
                    counts["errors"] += 1
                    unreachable = f"{type(exc).__name__}: {exc}"
                    self.stderr.write(f"{where}: banq could not be asked: {exc}")
                    break
                except BanqError as exc:
                    counts["errors"] += 1
                    self.stderr.write(f"{where}: {exc}")
                    continue
                key = COUNT_BY_RESULT.get(outcome.result, "errors")
                counts[key] += 1
                text = f"{where}: {outcome.result.replace('_', ' ')}"
                if outcome.reason:
                    text += f" ({outcome.reason})"
                self.stdout.write(text)
                if outcome.result in (RESULT_PAID, RESULT_ALREADY_PAID):
                    break  # the order is paid: its other attempts don't matter now

        for candidate in not_reconcilable:
            self.stdout.write(f"{candidate.order.number}: not reconcilable: {candidate.reason}")

        summary = ", ".join(f"{key} {counts[key]}" for key in SUMMARY_KEYS)
        self.stdout.write(
            ("Dry run, nothing applied. " if dry_run else "")
            + f"Checked {checked} order(s): {summary}; "
            f"not reconcilable {len(not_reconcilable)}."
        )
        if unreachable:
            raise CommandError(f"banq could not be reached or refused us ({unreachable}).")
        if counts["errors"]:
            raise CommandError(f"{counts['errors']} look-up(s) failed.")
