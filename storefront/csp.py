"""The Content-Security-Policy of every page (django-csp), and the endpoint browsers report
violations to.

The policy itself is ``CONTENT_SECURITY_POLICY`` in the settings: scripts only from the store,
banq's widget origin and inline ones carrying this response's nonce; frames only of banq's pages;
no plugins, no ``<base>``, no framing of the store. ``StoreCSPMiddleware`` is django-csp's
middleware, plus what the settings can't say:

- it sets the policy on HTML responses (documents), not on JSON ones;
- every HTML page's policy names a nonce, whether or not the page has an inline script (django-csp
  only adds one once a template asked for it): a page that gains a script keeps working, and none
  runs without it;
- ``connect-src`` allows the WebSocket of the host the page was served from (``ws://`` or
  ``wss://``), which the order page opens for live status.

``POST /csp-report/`` (``CspReportView``) takes the reports browsers send (``report-uri``: one
``application/csp-report`` object; the Reporting API: a list of ``csp-violation`` reports), logs
each violation with its URLs cleaned of secrets (an order page's URL carries its signed key), and
counts it (``storefront_csp_reports_total``). A report over ``CSP_REPORT_MAX_BYTES`` gets 413
(before it is read, at the edge), more than ``CSP_REPORT_RATE_LIMIT`` a minute from one address
get 429: a flood costs a cache increment each.
"""

from __future__ import annotations

import json
import logging

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt

from banq.ratelimit import Bucket, rate_limit_hit
from storefront import metrics
from storefront.http import JsonView, json_error
from storefront.logfilters import configured_secrets
from storefront.redaction import redact

logger = logging.getLogger(__name__)

# Directives a report may name; anything else is counted as "other" (the label is the browser's).
KNOWN_DIRECTIVES = frozenset(
    {
        "default-src",
        "script-src",
        "script-src-elem",
        "script-src-attr",
        "style-src",
        "style-src-elem",
        "style-src-attr",
        "img-src",
        "font-src",
        "connect-src",
        "frame-src",
        "frame-ancestors",
        "form-action",
        "base-uri",
        "object-src",
        "worker-src",
        "child-src",
        "manifest-src",
        "media-src",
    }
)
MAX_FIELD = 300


class StoreCSPMiddleware(CSPMiddleware):
    """django-csp's middleware: see the module doc."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # A policy governs documents: the JSON of the webhook, the payment link and the order's
        # status (the hot paths) is never one, and building the header for it costs.
        if not _is_html(response):
            return response
        return super().process_response(request, response)

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponse, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        parts.nonce = self._make_nonce(request)  # every page's, used or not
        try:
            host = request.get_host()
        except DisallowedHost:  # the 400 for a host we don't serve: no socket to allow
            return parts
        scheme = "wss" if request.is_secure() else "ws"
        update = dict(parts.update or {})
        update["connect-src"] = [*update.get("connect-src", ()), f"{scheme}://{host}"]
        parts.update = update
        return parts


def _is_html(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("text/html")


def _max_report_bytes() -> int:
    return int(settings.CSP_REPORT_MAX_BYTES)


def violations_of(data: object) -> list[dict]:
    """The violations in a report body, as dicts with the old ``report-uri`` field names."""
    if isinstance(data, dict) and isinstance(data.get("csp-report"), dict):
        return [data["csp-report"]]
    found = []
    for report in data if isinstance(data, list) else []:
        body = report.get("body") if isinstance(report, dict) else None
        if isinstance(body, dict) and report.get("type") == "csp-violation":
            found.append(
                {
                    "document-uri": body.get("documentURL"),
                    "blocked-uri": body.get("blockedURL"),
                    "effective-directive": body.get("effectiveDirective"),
                    "source-file": body.get("sourceFile"),
                    "line-number": body.get("lineNumber"),
                }
            )
    return found


def _text(value: object, secrets: tuple[str, ...]) -> str:
    return redact(str(value or "")[:MAX_FIELD], secrets)


def violation_log(violation: dict) -> None:
    directive = str(
        violation.get("effective-directive") or violation.get("violated-directive") or ""
    ).split(" ")[0]
    metrics.CSP_REPORTS.labels(
        directive=directive if directive in KNOWN_DIRECTIVES else "other"
    ).inc()
    secrets = configured_secrets()
    source = violation.get("source-file")
    logger.warning(
        "CSP violation: %s blocked %s on %s%s",
        _text(directive, secrets) or "?",
        _text(violation.get("blocked-uri"), secrets) or "?",
        _text(violation.get("document-uri"), secrets) or "?",
        f" ({_text(source, secrets)}:{_text(violation.get('line-number'), secrets)})"
        if source
        else "",
    )


@method_decorator(csrf_exempt, name="dispatch")
class CspReportView(JsonView):
    """``POST /csp-report/``: see the module doc. 204 when read, 400 for a body that is no
    report, 413 when too large, 429 when the address sent too many."""

    http_method_names = ["post"]
    # Read by the ASGI edge (storefront.limits): a larger declared body gets 413 unread.
    max_body_bytes = staticmethod(_max_report_bytes)

    def post(self, request: HttpRequest) -> HttpResponse:
        retry_after = rate_limit_hit(
            Bucket(
                "csp-report",
                str(request.META.get("REMOTE_ADDR") or ""),
                int(settings.CSP_REPORT_RATE_LIMIT),
            ),
            window=60,
        )
        if retry_after is not None:
            return json_error(
                "rate_limited", "Too many reports.", 429, Retry_After=str(retry_after)
            )
        limit = _max_report_bytes()
        body = request.read(limit + 1)
        if len(body) > limit:
            return json_error("body_too_large", f"Reports are {limit} bytes at most.", 413)
        try:
            violations = violations_of(json.loads(body or b"null"))
        except (ValueError, UnicodeDecodeError):
            violations = []
        if not violations:
            return json_error("bad_request", "That is not a CSP violation report.", 400)
        for violation in violations[:10]:
            violation_log(violation)
        return HttpResponse(status=204)
