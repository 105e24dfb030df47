"""The probes: the least code that does the same core work as each of the store's hot paths.

They run on the store's own stack (its ASGI handler and middleware, bench/probe/settings.py), so
that the store's figure over a probe's is the path's own work.

- ``bare``: a JSON answer (the store's floor, the same as the store's ``/_bench/bare``).
- ``webhook``: store the body (one insert), GET the payment from banq, mark the order paid with
  one update, and send the shopper's e-mail in the request through the store's e-mail backend
  (the store sends it from its task worker): what a minimal webhook costs.
- ``link``: read the order, POST get-paid-link to banq, save the attempt: a minimal payment link
  (no e-mail, as in the store).
"""

from __future__ import annotations

import json
import os
import threading
from decimal import Decimal

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from banq.models import BanqPayment
from orders.models import Order
from webhooks.models import WebhookEvent

_local = threading.local()
_token_lock = threading.Lock()
_token: list[str] = []


def _banq() -> tuple[requests.Session, str]:
    """A keep-alive session per thread, and one token for the process: the benchmark's own
    (``BENCH_PROBE_TOKEN``), else fetched once."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    with _token_lock:
        if not _token:
            _token.append(os.environ.get("BENCH_PROBE_TOKEN") or _fetch_token(_local.session))
    return _local.session, _token[0]


def _fetch_token(session: requests.Session) -> str:
    return session.post(
        settings.BANQ_TOKEN_URL,
        json={
            "client_id": settings.BANQ_CLIENT_ID,
            "username": settings.BANQ_USERNAME,
            "password": settings.BANQ_PASSWORD,
            "audience": settings.BANQ_AUDIENCE,
            "grant_type": "password",
        },
        timeout=10,
    ).json()["access_token"]


def bare(request):
    return JsonResponse({"ok": True})


@csrf_exempt
def webhook(request):
    body = request.body
    WebhookEvent.objects.create(raw_body=body, body_size=len(body))
    resource_id = json.loads(body)["resourceId"]
    session, token = _banq()
    payment = session.get(
        f"{settings.BANQ_API_URL}/payments/{resource_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()["data"]
    if payment["status"] == "completed":
        with connection.cursor() as cursor:  # one statement: the update and the address
            cursor.execute(
                f"UPDATE {Order._meta.db_table} SET status = 'paid', paid_at = %s, "
                "payment_reference = %s WHERE number = %s AND paid_at IS NULL "
                "RETURNING email, number, total",
                [timezone.now(), payment["id"], payment["externalOrderCode"]],
            )
            paid = cursor.fetchone()
        if paid:  # paid now, not before: the shopper's e-mail, once
            email, number, total = paid
            send_mail(
                f"Order {number}: payment received",
                f"We received your payment of {total} for order {number}. Thank you.",
                None,
                [email],
            )
    return JsonResponse({"status": "processed"})


@csrf_exempt
def link(request):
    order = Order.objects.get(public_id=json.loads(request.body)["orderId"])
    session, token = _banq()
    data = session.post(
        f"{settings.BANQ_API_URL}/payments/get-paid-link",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=json.dumps(
            {
                "destination": {"banqGuid": settings.BANQ_MERCHANT_GUID},
                "comment": f"Order {order.number}",
                "funds": "__FUNDS__",
                "externalOrderCode": order.number,
                "frequency": "once",
            }
        ).replace('"__FUNDS__"', str(order.total)),  # an exact JSON number, never a float
        timeout=10,
    ).json()["data"]
    BanqPayment.objects.create(
        order=order, banq_payment_id=data["id"], url=data["url"], funds=Decimal(order.total)
    )
    return JsonResponse({"data": {"url": data["url"]}})
