"""Reads of the banq app for the admin and the operator commands.

- our webhook URL (``webhook_url_build``) and its printable form (``webhook_url_mask``): the
  webhook token is a secret, so only its first characters are ever shown;
- the attempts that can be asked about (``attempt_latest_checkable``) and the orders the reconcile
  command looks at (``orders_to_reconcile``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models
from django.urls import reverse
from django.utils import timezone

from banq.exceptions import BanqConfigError
from banq.models import BanqPayment
from banq.settings import banq_settings
from orders.models import Order
from storefront.redaction import mask_webhook_url


def webhook_url_build(*, base_url: str, token: str | None = None) -> str:
    """Our webhook URL under ``base_url``: ``<base>/webhooks/banq/<token>/payment-status/``.

    Raises ``BanqConfigError`` when ``BANQ_WEBHOOK_TOKEN`` is not set.
    """
    token = banq_settings().webhook_token if token is None else token
    if not token or not str(token).strip():
        raise BanqConfigError("BANQ_WEBHOOK_TOKEN is not set.")
    return base_url.rstrip("/") + reverse("webhooks:banq", kwargs={"token": token.strip()})


def webhook_url_ours(*, base_url: str | None = None) -> str:
    return webhook_url_build(base_url=base_url or banq_settings().storefront_url)


def webhook_url_mask(url: str | None, *, token: str | None = None) -> str:
    """``url`` fit to print (``storefront.redaction.mask_webhook_url``, our token by default)."""
    return mask_webhook_url(url, token=banq_settings().webhook_token if token is None else token)


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

    Without ``number``: orders created more than ``older_than`` ago that are awaiting payment, and
    orders of any status (failed, expired, cancelled and pending too) with an attempt banq could
    still complete; their open attempts are asked about. With ``number``: that order whatever its
    status and age, and every attempt of it that carries a banq id. Each candidate lists the
    attempts to re-fetch, newest first, or the reason there is none.
    """
    if number:
        orders = list(Order.objects.filter(number=number))
    else:
        cutoff = (now or timezone.now()) - older_than
        with_open_attempt = BanqPayment.objects.filter(status__in=BanqPayment.OPEN_STATUSES).values(
            "order_id"
        )
        orders = list(
            Order.objects.filter(created_at__lte=cutoff, paid_at__isnull=True)
            .filter(
                models.Q(status=Order.Status.AWAITING_PAYMENT) | models.Q(pk__in=with_open_attempt)
            )
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
        open_with_id = [a for a in with_id if a.is_checkable]
        if number and with_id:
            candidates.append(ReconcileCandidate(order, with_id))
        elif open_with_id:
            candidates.append(ReconcileCandidate(order, open_with_id))
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
