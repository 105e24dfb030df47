"""Signals the orders app sends. Both are sent after the transaction commits, once per real change.

- ``order_paid(sender=Order, order=order)``: the order became paid (or, cancelled/expired, was paid
  anyway: ``order.attention`` says so).
- ``order_status_changed(sender=Order, order=order, previous=str, status=str)``.
"""

from django.dispatch import Signal

order_paid = Signal()
order_status_changed = Signal()
