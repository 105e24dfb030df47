"""Reads of the banq app for the admin and the operator commands.

- our webhook URL (``webhook_url_build``) and its printable form (``webhook_url_mask``): the
  webhook token is a secret, so only its first characters are ever shown;
- the attempts that can be asked about (``attempt_latest_checkable``) and the orders the reconcile
  command looks at (``orders_to_reconcile``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from banq.models import BanqPayment
from orders.models import Order

MASK_KEEP = 4
# banq can still complete these attempts: a superseded link may be open in an old tab.
OPEN_ATTEMPT_STATUSES = (BanqPayment.Status.CREATED, BanqPayment.Status.SUPERSEDED)
RECONCILE_ORDER_STATUSES = (
    Order.Status.PENDING,
    Order.Status.AWAITING_PAYMENT,
    Order.Status.FAILED,
)
_WEBHOOK_PATH = re.compile(r"(/webhooks/banq/)([^/?#]+)")


def secret_mask(value: str | None) -> str:
    """``abcd…`` for a secret: its first 4 characters (none when it is short) and an ellipsis."""
    if not value:
        return "(none)"
    if len(value) < 12:
        return "…"
    return value[:MASK_KEEP] + "…"


def webhook_url_build(*, base_url: str, token: str | None = None) -> str:
    """Our webhook URL under ``base_url``: ``<base>/webhooks/banq/<token>/payment-status/``.

    Raises ``ImproperlyConfigured`` when ``BANQ_WEBHOOK_TOKEN`` is not set.
    """
    token = settings.BANQ_WEBHOOK_TOKEN if token is None else token
    if not token or not str(token).strip():
        raise ImproperlyConfigured("BANQ_WEBHOOK_TOKEN is not set.")
    return base_url.rstrip("/") + reverse("webhooks:banq", kwargs={"token": token.strip()})


def webhook_url_ours(*, base_url: str | None = None) -> str:
    return webhook_url_build(base_url=base_url or settings.STOREFRONT_URL)


def webhook_url_mask(url: str | None, *, token: str | None = None) -> str:
    """``url`` fit to print: the token segment of a webhook path and ``token`` (default: ours)
    wherever it appears are replaced by their masked form."""
    if not url:
        return "(none)"
    token = settings.BANQ_WEBHOOK_TOKEN if token is None else token
    masked = _WEBHOOK_PATH.sub(lambda m: m.group(1) + secret_mask(m.group(2)), url)
    if token and len(token) >= 4:
        masked = masked.replace(token, secret_mask(token))
    return masked


def attempt_latest_checkable(*, order: Order) -> BanqPayment | None:
    """The order's newest attempt that carries banq's payment id (what banq can be asked about)."""
    return order.banq_payments.exclude(banq_payment_id="").order_by("-created_at", "-pk").first()


@dataclass(frozen=True)
class ReconcileCandidate:
    order: Order
    attempts: list[BanqPayment]  # to ask banq about, newest first; empty when not reconcilable
    reason: str = ""  # why it is not reconcilable, when ``attempts`` is empty


def orders_to_reconcile(
    *, older_than: timedelta, number: str | None = None, now: datetime | None = None
) -> list[ReconcileCandidate]:
    """Orders the reconcile command asks banq about, oldest first.

    Without ``number``: orders created more than ``older_than`` ago that are awaiting payment, or
    pending/failed with an attempt banq could still complete. With ``number``: that order whatever
    its status and age (its open attempts, else its newest attempt with a banq id).
    Each candidate lists the attempts to re-fetch, or the reason there is none.
    """
    if number:
        orders = list(Order.objects.filter(number=number))
    else:
        cutoff = (now or timezone.now()) - older_than
        open_attempt = Q(banq_payments__status__in=OPEN_ATTEMPT_STATUSES)
        orders = list(
            Order.objects.filter(status__in=RECONCILE_ORDER_STATUSES, created_at__lte=cutoff)
            .filter(Q(status=Order.Status.AWAITING_PAYMENT) | open_attempt)
            .distinct()
            .order_by("created_at", "pk")
        )
    attempts_by_order: dict[int, list[BanqPayment]] = {o.pk: [] for o in orders}
    for attempt in BanqPayment.objects.filter(order_id__in=attempts_by_order).order_by(
        "-created_at", "-pk"
    ):
        attempts_by_order[attempt.order_id].append(attempt)

    candidates = []
    for order in orders:
        attempts = attempts_by_order[order.pk]
        with_id = [a for a in attempts if a.banq_payment_id]
        open_with_id = [a for a in with_id if a.status in OPEN_ATTEMPT_STATUSES]
        if open_with_id:
            candidates.append(ReconcileCandidate(order, open_with_id))
        elif number and with_id:
            candidates.append(ReconcileCandidate(order, with_id[:1]))
        elif not attempts:
            candidates.append(
                ReconcileCandidate(order, [], "no payment attempt: no banq payment link was made")
            )
        elif not with_id:
            candidates.append(
                ReconcileCandidate(
                    order,
                    [],
                    "banq returned no payment id for its link, so there is nothing to look up "
                    "(the webhook, which names the payment, will still settle it)",
                )
            )
        else:
            candidates.append(
                ReconcileCandidate(order, [], "no open attempt: every attempt is settled")
            )
    return candidates
