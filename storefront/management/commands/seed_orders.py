"""``manage.py seed_orders --count N [--days D] [--seed S] [--yes]``: realistic orders in bulk.

For trials and benchmarks (``storefront/management/seed.py`` says what is written and how). It
refuses to run outside emulator mode (``BANQ_ENVIRONMENT`` sandbox or production) unless given
``--yes``: seeded orders look like real ones in the admin, the exports and the sales figures.
"""

from __future__ import annotations

import random
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from storefront.management.seed import seed_orders


class Command(BaseCommand):
    help = (
        "Fill the database with realistic orders created over the last D days (paid, expired, "
        "cancelled, failed, open, monthly plans with installments), with their lines, history, "
        "payment attempts and webhook events. Bulk inserts; no e-mail, no call to banq."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="how many orders")
        parser.add_argument(
            "--days", type=float, default=365, help="spread over the last D days (default 365)"
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=None,
            help="random seed: the same seed on the same database gives the same orders "
            "(default: a random one, printed)",
        )
        parser.add_argument(
            "--batch", type=int, default=5000, help="orders per transaction (default 5000)"
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="seed even outside emulator mode (BANQ_ENVIRONMENT sandbox or production)",
        )

    def handle(self, *args, count: int, days: float, seed: int | None, batch: int, yes: bool, **o):
        if count < 1:
            raise CommandError("--count must be at least 1.")
        if days <= 0:
            raise CommandError("--days must be more than 0.")
        environment = settings.BANQ_ENVIRONMENT
        if environment != "emulator" and not yes:
            raise CommandError(
                f"BANQ_ENVIRONMENT is {environment!r}: seeded orders would sit among real ones "
                "(in the admin, the exports and the sales figures). Nothing was written; add "
                "--yes if this database is really for trials."
            )
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)
        verbose = o.get("verbosity", 1) >= 1
        started = time.monotonic()
        last = [started]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if verbose and (now - last[0] >= 5 or done == total):
                last[0] = now
                rate = done / max(1e-9, now - started)
                self.stdout.write(f"  {done:,} of {total:,} orders ({rate:,.0f}/s)")

        try:
            result = seed_orders(count=count, days=days, seed=seed, batch=batch, progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        rows = ", ".join(f"{n:,} {name}" for name, n in result.counts.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {count:,} orders over {days:g} days in {result.seconds:.1f} s "
                f"(seed {seed}): {rows}."
            )
        )
