"""Expire unpaid orders older than ORDER_EXPIRY_MINUTES. Cron-safe, also run twice at once."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from orders.services import orders_expire_stale


class Command(BaseCommand):
    help = (
        "Mark pending and awaiting-payment orders older than ORDER_EXPIRY_MINUTES (or "
        "--older-than) as expired. Each order is locked and re-checked first, so a payment that "
        "lands at the same moment wins and concurrent runs never expire an order twice. A banq "
        "payment that completes after expiry is still recorded and flagged for the merchant."
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
        orders = orders_expire_stale(minutes=older_than, dry_run=dry_run)
        verb = "would expire" if dry_run else "expired"
        for order in orders:
            self.stdout.write(
                f"  {verb} {order.number} (created {order.created_at:%Y-%m-%d %H:%M})"
            )
        self.stdout.write(f"{len(orders)} order(s) {verb}.")
