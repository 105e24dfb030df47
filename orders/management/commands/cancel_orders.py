"""``manage.py cancel_orders NUMBER [NUMBER ...]``: cancel unpaid orders, provider asked first."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders.models import Order, OrderEvent
from orders.notifications import order_status_display
from orders.payments import provider_label
from orders.selectors import orders_by_number
from orders.services import EndResult, order_can_transition, order_cancel

SAID = {
    EndResult.DONE: "cancelled",
    EndResult.PAID: "not cancelled: a completed payment was found, the order is paid",
    EndResult.NOT_ALLOWED: "not cancelled: its status can't be cancelled",
}


class Command(BaseCommand):
    help = (
        "Cancel the orders with these numbers (pending, awaiting payment or failed), once the "
        "payment provider has said that no payment for them completed: a completed payment "
        "found then wins, and the order is paid instead. While it can't be asked (down, "
        "erroring, slow, or a look-up still in flight), nothing is cancelled and the command "
        "says so. Exit status 1 unless every order named was cancelled."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("numbers", nargs="+", metavar="NUMBER", help="order numbers")

    def handle(self, *args, numbers: list[str], **options) -> None:
        wanted = list(dict.fromkeys(n.strip() for n in numbers if n.strip()))
        found = orders_by_number(numbers=wanted)
        cancelled = 0
        for number in wanted:
            order = found.get(number)
            if order is None:
                self.stderr.write(f"{number}: no such order")
                continue
            done, said = self._cancel(order)
            self.stdout.write(f"{number}: {said}")
            cancelled += done
        self.stdout.write(f"{cancelled} of {len(wanted)} order(s) cancelled.")
        if cancelled < len(wanted):
            raise CommandError(f"{len(wanted) - cancelled} order(s) not cancelled.")

    @staticmethod
    def _cancel(order: Order) -> tuple[bool, str]:
        """Whether ``order`` was cancelled now, and what to say about it."""
        if not order_can_transition(current=order.status, target=Order.Status.CANCELLED):
            return False, f"not cancelled: it is {order_status_display(order).lower()}"
        result = order_cancel(order=order, source=OrderEvent.Source.COMMAND)
        if result != EndResult.UNKNOWN:
            return result == EndResult.DONE, SAID[result]
        if order.provider_unreachable_since is not None:
            return False, (
                f"not cancelled: {provider_label()} can't be reached right now, so it could not "
                "confirm that nothing was paid; nothing changed, try again later"
            )
        return False, (
            f"not cancelled: {provider_label()} is still answering about a payment for it (the "
            "shopper may be paying right now); nothing changed, try again in a moment"
        )
