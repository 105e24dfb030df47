"""The store's own Prometheus metrics, in one module, so each place that counts is one line.

Apps import this module (like ``storefront.http``): it imports nothing of theirs, only
``prometheus_client``. What each metric counts, and where:

- ``storefront_webhooks_total{outcome, via}``: banq's webhook deliveries by what the store made of
  them (the event's state: ``processed``, ``duplicate``, ``pending``..., or ``wrong_token``,
  ``too_large``), ``via="delivery"`` at the webhook URL, ``via="retry"`` when the worker finishes
  one (``webhooks/views.py``, ``webhooks/tasks.py``);
- ``storefront_settlements_total{verdict, source}``: banq's word applied to an order, by the
  settlement's verdict (``paid``, ``rejected``, ``not_completed``...) and who asked (``webhook``,
  ``confirm``, ``sweep``, ``reconcile``, ``admin``) (``banq/settlement.py``);
- ``storefront_confirm_calls_total{status}``: shoppers' "the widget says I paid" calls, by the
  order's status after (``banq/views.py``);
- ``storefront_sweep_checks_total{result}`` and ``storefront_sweep_found_total{verdict}``: payments
  the sweep asked banq about (``checked``, ``error``), and those it found changed there, which the
  webhooks had not brought (``banq/tasks.py``);
- ``storefront_emails_total{kind, outcome}``: e-mails to shoppers ``sent`` or ``failed`` (an
  attempt; the worker retries) (``orders/tasks.py``);
- ``storefront_banq_calls_total{endpoint, method, status}`` and
  ``storefront_banq_call_duration_seconds{endpoint, method}``: every HTTP call to banq, by its
  path with ids left out, the status (or ``timeout``, ``error``) and its time (``banq/client.py``);
- ``storefront_installments_total{result}``: installments of recurring plans recorded, by result
  (``paid``, ``failed``...), and ``missed`` ones (``banq/installments.py``,
  ``orders/services/subscriptions.py``);
- ``storefront_csp_reports_total{directive}``: Content-Security-Policy violations reported by
  browsers (``storefront/csp.py``).

The task queue (queued, failed, the oldest's age) and the workers' heartbeats are read from the
database when ``/metrics`` is scraped (``storefront.ops``), not counted here.

With ``PROMETHEUS_MULTIPROC_DIR`` set, prometheus_client keeps these values in files there, so that
the store processes and the workers of one host add up (``storefront.ops.metrics_registry``).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WEBHOOKS = Counter(
    "storefront_webhooks",
    "banq webhook events by outcome (the event's state, wrong_token, too_large), via a delivery "
    "or a worker retry",
    ["outcome", "via"],
)
SETTLEMENTS = Counter(
    "storefront_settlements",
    "banq's answers about a payment applied to orders, by verdict and by who asked",
    ["verdict", "source"],
)
CONFIRMS = Counter(
    "storefront_confirm_calls",
    "Shoppers' confirm calls (the widget reported a payment), by the order's status after",
    ["status"],
)
SWEEP_CHECKS = Counter(
    "storefront_sweep_checks",
    "Open payments the worker's sweep asked banq about, by result (checked, error)",
    ["result"],
)
SWEEP_FOUND = Counter(
    "storefront_sweep_found",
    "Payments the sweep found changed at banq (the webhooks had not brought it), by verdict",
    ["verdict"],
)
EMAILS = Counter(
    "storefront_emails",
    "E-mails to shoppers by kind and outcome (sent, failed: the worker retries)",
    ["kind", "outcome"],
)
BANQ_CALLS = Counter(
    "storefront_banq_calls",
    "HTTP calls to banq by endpoint, method and status (timeout, error: no answer)",
    ["endpoint", "method", "status"],
)
BANQ_CALL_SECONDS = Histogram(
    "storefront_banq_call_duration_seconds",
    "Time of HTTP calls to banq, by endpoint and method",
    ["endpoint", "method"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0),
)
INSTALLMENTS = Counter(
    "storefront_installments",
    "Installments of recurring plans recorded, by result, and missed ones (result=missed)",
    ["result"],
)
CSP_REPORTS = Counter(
    "storefront_csp_reports",
    "Content-Security-Policy violations reported by browsers, by directive",
    ["directive"],
)


def banq_call_observed(*, endpoint: str, method: str, status: str, seconds: float) -> None:
    """One HTTP call to banq: counted by its status, timed by its endpoint."""
    BANQ_CALLS.labels(endpoint=endpoint, method=method, status=status).inc()
    BANQ_CALL_SECONDS.labels(endpoint=endpoint, method=method).observe(seconds)


def sweep_counted(*, checked: int, errors: int) -> None:
    """One run of the sweep: the payments it asked banq about, and the calls that failed."""
    SWEEP_CHECKS.labels(result="checked").inc(checked)
    SWEEP_CHECKS.labels(result="error").inc(errors)
