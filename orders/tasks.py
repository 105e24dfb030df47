"""Background work of the orders app, run by ``manage.py worker``.

- ``order_changed``: what a change of an order sets off, enqueued in the change's own transaction
  (the outbox): the ``order_status_changed`` / ``order_paid`` signals, so receivers that do I/O
  run here, not in the request, and are not lost to a crash; and the shopper's e-mail, if any.
- ``order_email_send``: one e-mail to the shopper, exactly once per order and kind (the history
  records each one sent, and a task of a worker that died runs again: ``storefront.worker``); a
  failure is retried with backoff, and after the last try the order is flagged for the merchant.

The periodic expiry is ``orders.periodic.orders_expire``: these tasks are the side effects the
status machine (``orders.services``) enqueues, so they import nothing of it but the history.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone
from django_tasks import task

from orders.models import Order, OrderEvent, OrderFlag
from orders.notifications import email_render
from orders.services.history import order_flag_raise, order_history_add
from orders.signals import order_paid, order_status_changed
from storefront import metrics

logger = logging.getLogger(__name__)

EMAIL_MAX_ATTEMPTS = 6
EMAIL_RETRY_FIRST = 30  # seconds, doubled per attempt (30 s ... 16 min)


def email_already_sent(*, order: Order, kind: str) -> bool:
    return OrderEvent.objects.filter(
        order=order, kind=OrderEvent.Kind.EMAIL, data__email=kind
    ).exists()


def email_message_id(*, order: Order, kind: str) -> str:
    """One Message-ID per order and e-mail, the same on every try: if a worker dies after the mail
    server took the message but before the history recorded it, the task runs again and sends
    it again, and mail systems see the same message twice, not two messages."""
    host = urlsplit(settings.STOREFRONT_URL).hostname or "localhost"
    return f"<order-{order.public_id.hex}-{kind.replace(':', '-')}@{host}>"


def _email(order: Order, kind: str, attempt: int) -> str:
    """Send e-mail ``kind`` for ``order`` once; on failure, retry later with backoff."""
    if email_already_sent(order=order, kind=kind):
        return "already sent"
    subject, body = email_render(order=order, kind=kind)
    message = EmailMessage(
        subject,
        body,
        settings.DEFAULT_FROM_EMAIL,
        [order.email],
        headers={"Message-ID": email_message_id(order=order, kind=kind)},
    )
    try:
        message.send()
    except Exception as exc:
        metrics.EMAILS.labels(kind=kind, outcome="failed").inc()
        problem = f"{type(exc).__name__}: {exc}"[:300]
        if attempt >= EMAIL_MAX_ATTEMPTS:
            order_history_add(
                order=order,
                kind=OrderEvent.Kind.EMAIL_FAILED,
                source=OrderEvent.Source.WORKER,
                message=f"{subject}: not sent after {attempt} tries ({problem}).",
                data={"email": kind},
            )
            order_flag_raise(
                order=order,
                kind=OrderFlag.Kind.EMAIL_FAILED,
                note=f"The '{kind}' e-mail to the shopper could not be sent: {problem}",
                reference=kind,
                source=OrderEvent.Source.WORKER,
            )
            logger.error("Order %s: e-mail %s not sent, giving up", order.public_id, kind)
            return "failed"
        delay = timedelta(seconds=EMAIL_RETRY_FIRST * 2 ** (attempt - 1))
        order_email_send.using(run_after=timezone.now() + delay).enqueue(
            order.pk, kind, attempt + 1
        )
        logger.warning(
            "Order %s: e-mail %s failed (%s), retrying in %s s",
            order.public_id,
            kind,
            problem,
            int(delay.total_seconds()),
        )
        return "retrying"
    order_history_add(
        order=order,
        kind=OrderEvent.Kind.EMAIL,
        source=OrderEvent.Source.WORKER,
        message=f"{subject} (to the shopper)",
        data={"email": kind},
    )
    logger.info("Order %s: e-mail %s sent", order.public_id, kind)
    metrics.EMAILS.labels(kind=kind, outcome="sent").inc()
    return "sent"


@task()
def order_email_send(order_id: int, kind: str, attempt: int = 1) -> str:
    """Send e-mail ``kind`` for the order once (a retry); returns what happened."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return "no such order"
    return _email(order, kind, attempt)


@task()
def order_changed(order_id: int, previous: str, status: str, email: str = "") -> str:
    """Send the order's signals (a failing receiver is logged, the others still run), then the
    e-mail ``email`` names, if any."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return "no such order"
    results = []
    if previous != status:
        results += order_status_changed.send_robust(
            sender=Order, order=order, previous=previous, status=status
        )
    if email:  # a payment was recorded
        results += order_paid.send_robust(sender=Order, order=order)
    for receiver, outcome in results:
        if isinstance(outcome, Exception):
            logger.error(
                "Order %s: signal receiver %s failed: %r",
                order.public_id,
                getattr(receiver, "__qualname__", receiver),
                outcome,
            )
    sent = _email(order, email, 1) if email else "no e-mail"
    return f"{len(results)} receiver(s), e-mail: {sent}"
