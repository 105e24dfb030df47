"""``manage.py process_webhooks``: reprocess stored webhook events through the live path.

The worker (``manage.py worker``) already retries waiting events on a backoff schedule; this command
is for an operator who wants it now. Safe beside the worker and itself: each event is claimed in the
database (skipped if another run holds it), and processing locks the event row and ignores events
another run settled meanwhile, so an event is never applied twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from webhooks.models import WebhookEvent
from webhooks.services import webhook_event_process_claimed

State = WebhookEvent.State
DEFAULT_STATES = (State.PENDING, State.UNMATCHED, State.FAILED, State.RECEIVED)
# A `received` event younger than this is probably being processed by its request right now.
RECEIVED_GRACE = timedelta(minutes=2)
FAILING_STATES = {State.PENDING, State.FAILED}


class Command(BaseCommand):
    help = (
        "Reprocess stored banq webhook events (re-fetch from banq, apply). By default: events in "
        "states pending, unmatched and failed, and events stuck in received for over 2 minutes, "
        "oldest first. Invalid events are reprocessed only when named with --id. Exit status 1 "
        "when some events are still pending or failed afterwards (banq unreachable, unexpected "
        "errors), so cron and monitoring notice; events still unmatched (no order yet) are not "
        "an error, and neither are dead events (an event that failed on every attempt up to the "
        "bound is given up on, shown in the admin as needing attention, and reprocessed only "
        "with --state dead or --id)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--state",
            default=",".join(DEFAULT_STATES),
            help="Comma-separated states to pick (default: %(default)s).",
        )
        parser.add_argument(
            "--id",
            dest="ids",
            type=int,
            nargs="+",
            action="extend",
            default=[],
            help="Reprocess these event ids (any state, invalid included; settled ones are left).",
        )
        parser.add_argument(
            "--limit", type=int, default=100, help="At most this many events (default 100)."
        )

    def handle(self, *args, **options) -> None:
        limit = options["limit"]
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        if options["ids"]:
            events = WebhookEvent.objects.filter(pk__in=options["ids"])
        else:
            states = [s.strip().lower() for s in options["state"].split(",") if s.strip()]
            unknown = sorted(set(states) - set(State.values))
            if unknown:
                raise CommandError(
                    f"Unknown state(s): {', '.join(unknown)}. Known: {', '.join(State.values)}."
                )
            events = WebhookEvent.objects.filter(state__in=states).exclude(
                state=State.RECEIVED, received_at__gt=timezone.now() - RECEIVED_GRACE
            )
        ids = list(events.order_by("received_at", "pk").values_list("pk", flat=True)[:limit])

        results: Counter[str] = Counter()
        skipped = 0
        before = dict(WebhookEvent.objects.filter(pk__in=ids).values_list("pk", "state"))
        for pk in ids:
            event = webhook_event_process_claimed(pk=pk)
            if event is None:
                skipped += 1
                continue
            results[event.state] += 1
            self.stdout.write(f"event {pk}: {before.get(pk)} -> {event.state}")

        summary = ", ".join(f"{state} {count}" for state, count in sorted(results.items()))
        self.stdout.write(
            f"{sum(results.values())} event(s) reprocessed"
            + (f": {summary}" if summary else "")
            + (f"; {skipped} skipped (another run holds them)" if skipped else "")
            + "."
        )
        if results[State.DEAD]:
            self.stderr.write(
                f"{results[State.DEAD]} event(s) dead: they failed on every attempt and need "
                "attention (see the admin); reprocess them with --state dead once fixed."
            )
        failing = sum(results[s] for s in FAILING_STATES)
        if failing:
            raise CommandError(f"{failing} event(s) still pending or failed.")
