"""Expire unpaid orders older than ORDER_EXPIRY_MINUTES. Cron-safe, also run twice at once."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders.payments import provider_label
from orders.services import orders_expire_run, orders_expire_stale


class Command(BaseCommand):
    help = (
        "Mark pending and awaiting-payment orders older than ORDER_EXPIRY_MINUTES (or "
        "--older-than) as expired, once the payment provider has said that no payment for them "
        "completed. Each order is locked and re-checked first, so a payment that lands at the "
        "same moment wins and concurrent runs never expire an order twice. While the provider "
        "can't be asked, nothing expires: the run says so and stops (the worker tries again "
        "every 30 seconds). A payment that completes after expiry is still recorded and "
        "flagged for the merchant."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            metavar="MINUTES",
            help=f"age in minutes (default ORDER_EXPIRY_MINUTES = {settings.ORDER_EXPIRY_MINUTES})",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="list the orders that would expire, change nothing",
        )

    def handle(self, *args, older_than=None, dry_run=False, **options):
        if older_than is not None and older_than < 0:
            raise CommandError("--older-than must be zero or more minutes")
        if dry_run:
            orders = orders_expire_stale(minutes=older_than, dry_run=True)
            for order in orders:
                self.stdout.write(f"  would expire {order.number} ({self._created(order)})")
            self.stdout.write(f"{len(orders)} order(s) would expire.")
            return
        run = orders_expire_run(minutes=older_than)
        for order in run.expired:
            self.stdout.write(f"  expired {order.number} ({self._created(order)})")
        for order in run.paid:
            self.stdout.write(f"  not expired {order.number}: a completed payment was found, paid")
        for order in run.postponed:
            why = (
                f"{provider_label()} can't be reached right now"
                if order.provider_unreachable_since is not None
                else f"{provider_label()} is still answering about a payment for it"
            )
            self.stdout.write(f"  not expired {order.number}: {why}; nothing changed")
        self.stdout.write(f"{len(run.expired)} order(s) expired.")
        if run.unreachable:
            self.stdout.write(
                f"{provider_label()} can't be reached right now: stopped; {run.left} more order(s) "
                "wait for "
                "the next run."
            )

    @staticmethod
    def _created(order) -> str:
        return f"created {order.created_at:%Y-%m-%d %H:%M}"
