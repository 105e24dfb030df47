"""Signals the orders app sends, once per real change, from the task worker (``orders.tasks``):
they are enqueued in the transaction of the change, so a crash loses none, and receivers that do
I/O never run inside a request.

- ``order_paid(sender=Order, order=order)``: a payment was recorded for the order (a cancelled
  order keeps its status and ``order.refund_due`` is then true).
- ``order_status_changed(sender=Order, order=order, previous=str, status=str)``.

Connect receivers in an app's ``AppConfig.ready()``, so that every process (the store, the worker,
a command) has them: a status change is handed to the worker only when a receiver is connected in
the process that makes the change (or when it sends an e-mail).
"""

from django.dispatch import Signal

order_paid = Signal()
order_status_changed = Signal()
