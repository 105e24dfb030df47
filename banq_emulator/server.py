"""The emulator's HTTP application: banq's API paths, the widget script and page, the hosted
pages and the control API. The socket side (HTTP/1.1, keep-alive) lives in banq_emulator/http.py;
`requests` is used by the webhook deliverer only.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from banq_emulator import defaults, pages
from banq_emulator.http import EmulatorHTTPServer, Request, Response, dumps, make_http_server
from banq_emulator.installments import InstallmentClock
from banq_emulator.redact import mask_url
from banq_emulator.state import (
    FAULT_DEFAULTS,
    EmulatorState,
    FaultError,
    InstallmentError,
    Payment,
    Transaction,
    WebhookConfig,
    validate_faults,
)
from banq_emulator.webhooks import Deliverer

logger = logging.getLogger(__name__)

WIDGET_JS = Path(__file__).with_name("widget.js")
MAX_FUNDS = Decimal("9999999999.99")
CENT = Decimal("0.01")
GUID_RE = r"[0-9A-Za-z-]{1,64}"


@dataclass
class Route:
    methods: tuple[str, ...]
    pattern: re.Pattern[str]
    name: str
    kind: str  # api, page, control
    handler: Callable[[Request], Response]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.response = Response.error(status, code, message)


def _transaction_json(t: Transaction) -> dict[str, Any]:
    data: dict[str, Any] = {
        "guid": t.guid,
        "paymentGuid": t.payment_guid,
        "externalOrderCode": t.external_order_code,
        "status": t.status,
        "funds": t.funds.quantize(CENT),
        "failReason": t.fail_reason,
    }
    if t.installment is not None:  # a transaction of a recurring payment
        data.update(
            installment=t.installment,
            scheduledDate=t.scheduled_date.isoformat() if t.scheduled_date else None,
            completedAt=t.created_at,
        )
    return data


def _installment_json(t: Transaction) -> dict[str, Any]:
    return {
        "guid": t.guid,
        "status": t.status,
        "funds": t.funds.quantize(CENT),
        "failReason": t.fail_reason,
        "installment": t.installment,
        "scheduledDate": t.scheduled_date.isoformat() if t.scheduled_date else None,
        "completedAt": t.created_at,
    }


def _payment_json(p: Payment, state: EmulatorState) -> dict[str, Any]:
    """The payment as GET /api/v1/payments/{id} shows it (call with the state lock held)."""
    data: dict[str, Any] = {
        "id": p.id,
        "status": p.status,
        "funds": p.funds.quantize(CENT),
        "comment": p.comment,
        "externalOrderCode": p.external_order_code,
        "destination": {"banqGuid": p.banq_guid},
        "recurrence": {
            "frequency": p.frequency,
            "startDate": p.start_date.isoformat() if p.start_date else None,
            "endDate": p.end_date.isoformat() if p.end_date else None,
        },
        "url": p.url,
        "createdAt": p.created_at,
        "completedAt": p.completed_at,
        "failReason": p.fail_reason,
    }
    if p.recurring:
        following = p.next_installment_date()
        data["transactions"] = [_installment_json(t) for t in state.payment_transactions(p)]
        data["nextInstallmentDate"] = following.isoformat() if following else None
        data["cancelledAt"] = p.cancelled_at
    return data


def _parse_date(value: Any, name: str) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ApiError(400, "invalid_date", f"{name} must be a date YYYY-MM-DD or null")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_date", f"{name} is not a calendar date") from None


def parse_funds(value: Any) -> Decimal:
    """A positive amount in dollars with at most 2 decimals (JSON number or numeric string)."""
    if isinstance(value, bool) or value is None:
        raise ApiError(400, "invalid_funds", "funds must be a positive number")
    if isinstance(value, (int, Decimal)):
        amount = Decimal(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        amount = Decimal(value.strip())
    else:
        raise ApiError(400, "invalid_funds", "funds must be a positive number")
    try:
        if not amount.is_finite() or amount <= 0:
            raise ApiError(400, "invalid_funds", "funds must be a positive number")
        if amount.quantize(CENT) != amount:
            raise ApiError(400, "invalid_funds", "funds has more than 2 decimal places")
    except InvalidOperation:
        raise ApiError(400, "invalid_funds", "funds must be a positive number") from None
    if amount > MAX_FUNDS:
        raise ApiError(400, "invalid_funds", "funds is above the maximum amount")
    return amount


def valid_origin(value: str) -> str | None:
    """`scheme://host[:port]` when value is an http(s) origin, else None."""
    if not value:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _webhook_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ApiError(400, "invalid_url", "url must be an http(s) URL")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(400, "invalid_url", "url must be an http(s) URL")
    return value.strip()


class EmulatorApp:
    def __init__(self, state: EmulatorState, *, retry_backoff: float = 2.0):
        self.state = state
        self.base_url = "http://127.0.0.1:8001"
        self.deliverer = Deliverer(state, backoff=retry_backoff)
        self.clock = InstallmentClock(state, self._clock_fire)
        self.retry_backoff = retry_backoff
        self.routes: list[Route] = []
        api = "/api/v1"
        self._add("POST", "/oauth/token", "token", "api", self.token)
        self._add("POST", f"{api}/payments/get-paid-link", "get-paid-link", "api", self.paid_link)
        self._add("GET", f"{api}/payments/(?P<id>{GUID_RE})", "get-payment", "api", self.payment)
        self._add(
            "GET", f"{api}/transactions/(?P<id>{GUID_RE})", "get-transaction", "api", self.txn
        )
        self._add(
            "POST",
            f"{api}/payments/(?P<id>{GUID_RE})/cancel",
            "cancel-payment",
            "api",
            self.cancel_payment,
        )
        self._add("GET", f"{api}/users/me", "users-me", "api", self.users_me)
        self._add(
            ("GET", "POST", "PATCH"),
            f"{api}/account-spaces/(?P<id>{GUID_RE})/webhook-config",
            "webhook-config",
            "api",
            self.webhook_config,
        )
        self._add("GET", "/widget/ecommerce.js", "widget", "page", self.widget)
        self._add("GET", "/widget/?", "widget-page", "page", self.widget_page)
        self._add("GET", "/favicon.ico", "favicon", "page", self.favicon)
        self._add("GET", "/favicon.svg", "favicon-svg", "page", self.favicon_svg)
        code = r"(?P<code>[0-9A-Za-z]{11})"
        self._add("GET", f"/link/{code}", "link", "page", self.link_page)
        self._add("GET", f"/link/{code}/status", "link-status", "page", self.link_status)
        self._add("POST", f"/link/{code}/pay", "link-pay", "page", self.link_pay)
        self._add("POST", f"/link/{code}/decline", "link-decline", "page", self.link_decline)
        self._add(("GET", "POST"), f"/app/approve/{code}", "approve", "page", self.approve)
        self._add("GET", "/", "root", "page", lambda r: Response.redirect("/_emulator/"))
        self._add("GET", "/_emulator/?", "dashboard", "control", self.dashboard)
        c = "/_emulator/api"
        self._add("GET", f"{c}/state", "c-state", "control", self.c_state)
        self._add("POST", f"{c}/reset", "c-reset", "control", self.c_reset)
        self._add("GET", f"{c}/payments", "c-payments", "control", self.c_payments)
        self._add(
            "POST", f"{c}/payments/(?P<id>{GUID_RE})/complete", "c-complete", "control", self.c_done
        )
        self._add("POST", f"{c}/payments/(?P<id>{GUID_RE})/fail", "c-fail", "control", self.c_fail)
        self._add(
            "POST",
            f"{c}/payments/(?P<id>{GUID_RE})/next-installment",
            "c-next-installment",
            "control",
            self.c_next_installment,
        )
        self._add("GET", f"{c}/deliveries", "c-deliveries", "control", self.c_deliveries)
        self._add(
            "POST", f"{c}/deliveries/(?P<id>{GUID_RE})/resend", "c-resend", "control", self.c_resend
        )
        self._add(("GET", "POST", "PATCH"), f"{c}/faults", "c-faults", "control", self.c_faults)
        self._add(("GET", "POST"), f"{c}/webhook-config", "c-webhook", "control", self.c_webhook)
        self._add(
            ("GET", "POST", "PATCH"),
            f"{c}/installment-clock",
            "c-clock",
            "control",
            self.c_installment_clock,
        )

    def start(self) -> None:
        """Background work: the installment clock, and deliveries a state file kept pending."""
        self.clock.start()
        self.deliverer.resume_pending()

    def stop(self) -> None:
        self.deliverer.stopping.set()
        self.clock.stop()

    def _add(self, methods, pattern, name, kind, handler) -> None:
        if isinstance(methods, str):
            methods = (methods,)
        self.routes.append(Route(tuple(methods), re.compile(pattern + r"\Z"), name, kind, handler))

    # -- dispatch ----------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.method == "HEAD":  # answered as GET; the server leaves the body out
            request.method = "GET"
        allowed: list[str] = []
        for route in self.routes:
            match = route.pattern.match(request.path)
            if not match:
                continue
            if request.method not in route.methods:
                allowed.extend(route.methods)
                continue
            request.params = match.groupdict()
            try:
                if route.kind == "api":
                    injected = self._inject_faults(route.name)
                    if injected is not None:
                        return injected
                return route.handler(request)
            except ApiError as exc:
                return exc.response
            except KeyError:
                return Response.error(404, "not_found", "No such resource")
        if allowed:
            response = Response.error(405, "method_not_allowed", "Method not allowed")
            response.headers["Allow"] = ", ".join(sorted(set(allowed)))
            return response
        return Response.error(404, "not_found", f"No route for {request.path}")

    def _inject_faults(self, route_name: str) -> Response | None:
        faults = self.state.faults  # replaced whole on change: no lock, no copy
        if faults["latency_ms"]:
            time.sleep(faults["latency_ms"] / 1000)
        rate = faults["error_rate"]
        routes = faults["error_routes"]
        if rate and (not routes or route_name in routes) and self.state.random() < rate:
            return Response.error(503, "service_unavailable", "Injected fault: try again later")
        return None

    # -- helpers -----------------------------------------------------------------

    def _body(self, request: Request, *, decimals: bool = False) -> dict[str, Any]:
        if request.is_form:
            return dict(request.form())
        try:
            body = request.json(decimals=decimals)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_json", "The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", "The request body must be a JSON object")
        return body

    def _auth(self, request: Request, audience: str) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "Missing bearer token")
        found = self.state.check_token(token.strip())
        if found is None:
            raise ApiError(401, "invalid_token", "The access token is invalid or expired")
        if found.audience != audience:
            raise ApiError(403, "forbidden", "This token's audience may not call this path")

    def settle(self, payment_id: str, *, status: str, reason: str | None, via: str) -> bool:
        """Complete/fail a payment and queue its webhooks. False when it was already settled."""
        result = self.state.settle(payment_id, status=status, reason=reason, via=via)
        if result is None:
            return False
        payment, transaction = result
        logger.info("Payment %s %s via %s", payment.id, status, via)
        self.deliverer.dispatch(payment, transaction)
        return True

    def next_installment(
        self,
        payment_id: str,
        *,
        fail: bool = False,
        reason: str | None = None,
        via: str,
        force: bool = False,
    ) -> Transaction:
        """Charge a recurring payment's next installment now and queue its Transaction webhook.
        Raises KeyError (unknown payment) or InstallmentError."""
        payment, transaction = self.state.charge_installment(
            payment_id, fail=fail, reason=reason, force=force
        )
        logger.info(
            "Payment %s installment %s (due %s) %s via %s",
            payment.id,
            transaction.installment,
            transaction.scheduled_date,
            transaction.status,
            via,
        )
        self.deliverer.dispatch_installment(payment, transaction)
        return transaction

    def _clock_fire(self, payment_id: str) -> None:
        # KeyError / InstallmentError: reset or ended between the clock's look and its charge.
        with contextlib.suppress(KeyError, InstallmentError):
            self.next_installment(payment_id, via="clock")

    # -- banq API ----------------------------------------------------------------

    def token(self, request: Request) -> Response:
        if request.is_form:
            body: Any = request.form()
        else:
            try:
                body = request.json()
            except (ValueError, UnicodeDecodeError):
                body = None
        if not isinstance(body, dict):
            return Response.json(
                {"error": "invalid_request", "error_description": "Invalid JSON body"}, 400
            )
        grant = body.get("grant_type")
        if grant != "password":
            return Response.json(
                {
                    "error": "unsupported_grant_type",
                    "error_description": f"Unsupported grant type: {grant}",
                },
                403,
            )
        client_id = body.get("client_id")
        username = body.get("username") or body.get("client_username")
        password = body.get("password") or body.get("client_password")
        flows = {
            defaults.OPEN_API_CLIENT_ID: (
                defaults.OPEN_API_AUDIENCE,
                defaults.OPEN_API_USERNAME,
                defaults.OPEN_API_PASSWORD,
            ),
            defaults.MERCHANT_CLIENT_ID: (
                defaults.MERCHANT_AUDIENCE,
                defaults.MERCHANT_USERNAME,
                defaults.MERCHANT_PASSWORD,
            ),
        }
        if client_id not in flows:
            return Response.json(
                {"error": "access_denied", "error_description": "Unauthorized"}, 401
            )
        audience, good_user, good_password = flows[client_id]
        if body.get("audience") != audience:
            return Response.json(
                {
                    "error": "access_denied",
                    "error_description": "Service not enabled within domain: "
                    f"{body.get('audience')}",
                },
                403,
            )
        if not username or not password:
            return Response.json(
                {
                    "error": "invalid_request",
                    "error_description": "Missing required parameter: username/password",
                },
                400,
            )
        if username != good_user or password != good_password:
            return Response.json(
                {"error": "invalid_grant", "error_description": "Wrong email or password."}, 403
            )
        token, ttl = self.state.issue_token(
            audience=audience, subject=username, client_id=client_id
        )
        data: dict[str, Any] = {"access_token": token, "token_type": "Bearer", "expires_in": ttl}
        if body.get("scope"):
            data["scope"] = body["scope"]
        return Response.json(data, headers={"Cache-Control": "no-store"})

    def paid_link(self, request: Request) -> Response:
        self._auth(request, defaults.OPEN_API_AUDIENCE)
        body = self._body(request, decimals=True)
        destination = body.get("destination")
        if not isinstance(destination, dict) or not destination.get("banqGuid"):
            raise ApiError(400, "missing_destination", "destination.banqGuid is required")
        banq_guid = destination["banqGuid"]
        if not isinstance(banq_guid, str) or self.state.banq_account(banq_guid) is None:
            raise ApiError(400, "unknown_destination", "destination.banqGuid is not a known banq")
        if "funds" not in body:
            raise ApiError(400, "invalid_funds", "funds is required")
        funds = parse_funds(body["funds"])
        frequency = body.get("frequency") or "once"
        if frequency not in defaults.FREQUENCIES:
            raise ApiError(
                400,
                "invalid_frequency",
                f"frequency must be one of: {', '.join(defaults.FREQUENCIES)}",
            )
        comment = body.get("comment") or ""
        order_code = body.get("externalOrderCode") or ""
        if isinstance(order_code, int) and not isinstance(order_code, bool):
            order_code = str(order_code)
        if not isinstance(comment, str) or len(comment) > 1000:
            raise ApiError(400, "invalid_comment", "comment must be a string (max 1000 chars)")
        if not isinstance(order_code, str) or len(order_code) > 255:
            raise ApiError(400, "invalid_order_code", "externalOrderCode must be a string")
        start = _parse_date(body.get("startDate"), "startDate")
        end = _parse_date(body.get("endDate"), "endDate")
        if start and end and end < start:
            raise ApiError(400, "invalid_date", "endDate is before startDate")
        payment = self.state.create_payment(
            base_url=self.base_url,
            funds=funds,
            comment=comment,
            external_order_code=order_code,
            banq_guid=banq_guid,
            frequency=frequency,
            start_date=start,
            end_date=end,
        )
        logger.info("Payment %s created for order code %s", payment.id, order_code)
        return Response.json(
            {"data": {"id": payment.id, "url": payment.url}},
            201,
            {"Location": f"{self.base_url}/api/v1/payments/{payment.id}"},
        )

    def payment(self, request: Request) -> Response:
        self._auth(request, defaults.OPEN_API_AUDIENCE)
        payment = self.state.payments[request.params["id"]]
        body = payment.api_body  # the hot path: a cached body, rebuilt after each change
        if body is None:
            with self.state.lock:
                body = payment.api_body = dumps(
                    {"data": _payment_json(payment, self.state)}
                ).encode()
        return Response(200, body, {"Content-Type": "application/json"})

    def cancel_payment(self, request: Request) -> Response:
        """Stop a recurring payment's installments. banq's recurring API is undocumented: this is
        the emulator's model of it (the store's banq_check reports whether real banq answers)."""
        self._auth(request, defaults.OPEN_API_AUDIENCE)
        try:
            payment = self.state.cancel_recurring(request.params["id"])
        except KeyError:
            raise ApiError(404, "payment_not_found", "Unknown payment") from None
        except InstallmentError as exc:
            raise ApiError(409, exc.code, str(exc)) from None
        logger.info("Payment %s: recurring charges cancelled", payment.id)
        with self.state.lock:
            return Response.json({"data": _payment_json(payment, self.state)})

    def txn(self, request: Request) -> Response:
        self._auth(request, defaults.OPEN_API_AUDIENCE)
        found = self.state.transactions[request.params["id"]]
        return Response.json({"data": _transaction_json(found)})

    def users_me(self, request: Request) -> Response:
        self._auth(request, defaults.MERCHANT_AUDIENCE)
        include = {p.strip() for p in request.arg("include").split(",") if p.strip()}
        space = self.state.account_spaces[defaults.ACCOUNT_SPACE_ID]
        data: dict[str, Any] = {"email": defaults.MERCHANT_USERNAME}
        if not include or "accountSpaces" in include:
            data["accountSpaces"] = [
                {"id": space.id, "name": space.name, "platformId": space.platform_id}
            ]
        if not include or "banqAccounts" in include:
            data["banqAccounts"] = [
                {"banqGuid": guid, "banqName": name, "accountSpaceId": space.id}
                for guid, name in space.banq_accounts
            ]
        return Response.json({"data": data})

    def webhook_config(self, request: Request) -> Response:
        self._auth(request, defaults.OPEN_API_AUDIENCE)
        space_id = request.params["id"]
        if space_id not in self.state.account_spaces:
            raise ApiError(404, "not_found", "Unknown account space")
        if space_id != defaults.ACCOUNT_SPACE_ID:
            raise ApiError(403, "forbidden", "This account space belongs to another user")
        return self._config_call(request, space_id)

    def _config_call(self, request: Request, space_id: str) -> Response:
        state = self.state
        if request.method == "GET":
            with state.lock:
                config = state.webhook_configs.get(space_id)
                if config is None:
                    # banq's answer before the first registration: the log says so in words
                    # (`make run` asks this on every start).
                    answer = Response.error(
                        404, "not_found", "No webhook config for this account space"
                    )
                    answer.log_note = "no webhook config registered yet"
                    return answer
                return Response.json({"data": config.as_json()})
        body = self._body(request)
        known = {"url", "enabled", "retryCount", "webHookTypes"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ApiError(400, "invalid_field", f"unknown field(s): {', '.join(unknown)}")
        with state.lock:
            existing = state.webhook_configs.get(space_id)
            if request.method == "PATCH":
                if existing is None:
                    raise ApiError(404, "not_found", "No webhook config for this account space")
                config = WebhookConfig(
                    url=existing.url,
                    enabled=existing.enabled,
                    retry_count=existing.retry_count,
                    types=list(existing.types),
                )
            else:
                if "url" not in body:
                    raise ApiError(400, "invalid_url", "url is required")
                config = WebhookConfig(url="")
            _apply_config(config, body)
            state.set_webhook_config(space_id, config)
            status = 201 if request.method == "POST" and existing is None else 200
            return Response.json({"data": config.as_json()}, status)

    # -- widget and hosted pages -------------------------------------------------

    def widget(self, request: Request) -> Response:
        return Response(
            200,
            WIDGET_JS.read_bytes(),
            {"Content-Type": "application/javascript; charset=utf-8", "Cache-Control": "no-cache"},
        )

    def favicon(self, request: Request) -> Response:
        return Response(
            200,
            pages.FAVICON_ICO,
            {"Content-Type": "image/x-icon", "Cache-Control": "max-age=86400"},
        )

    def favicon_svg(self, request: Request) -> Response:
        return Response(
            200,
            pages.FAVICON_SVG.encode(),
            {"Content-Type": "image/svg+xml", "Cache-Control": "max-age=86400"},
        )

    def _payment_for(self, code: str) -> Payment:
        payment = self.state.payment_by_code(code)
        if payment is None:
            raise ApiError(404, "not_found", "Unknown payment link")
        return payment

    def _page_error(self, exc: ApiError) -> Response:
        return Response.html(pages.not_found(), exc.response.status)

    def _link_page(
        self, payment: Payment, *, origin: str | None, frame: pages.Frame | None, error: str = ""
    ) -> str:
        return pages.link_page(
            payment,
            merchant=self.state.merchant_name_for(payment.banq_guid),
            origin=origin,
            approve_url=f"{self.base_url}/app/approve/{payment.code}",
            error=error,
            frame=frame,
        )

    def link_page(self, request: Request) -> Response:
        try:
            payment = self._payment_for(request.params["code"])
        except ApiError as exc:
            return self._page_error(exc)
        origin = valid_origin(request.arg("origin"))
        return Response.html(
            self._link_page(payment, origin=origin, frame=None, error=request.arg("error"))
        )

    def widget_page(self, request: Request) -> Response:
        """banq's widget app, the page the <checkout-widget> web component frames:
        `/widget/?paymentLink=<link>&origin=<host page origin>&...` (the component's other
        parameters are accepted and ignored). It shows the link's payment page and posts
        `styles`, then `successPayment` or `close`, to that origin only."""
        origin = valid_origin(request.arg("origin"))
        frame = pages.Frame(
            window_width=_positive_int(request.arg("windowWidth")),
            window_height=_positive_int(request.arg("windowHeight")),
        )
        link = request.arg("paymentLink").strip()
        if not link:
            return Response.html(
                pages.widget_problem(
                    "No payment link",
                    "This checkout was opened without a payment link (paymentLink).",
                    origin=origin,
                    frame=frame,
                ),
                400,
            )
        code = link_code(link)
        payment = self.state.payment_by_code(code) if code else None
        if payment is None:
            return Response.html(
                pages.widget_problem(
                    "Unknown link",
                    "This payment link does not exist (or the emulator was reset).",
                    origin=origin,
                    frame=frame,
                ),
                404,
            )
        return Response.html(self._link_page(payment, origin=origin, frame=frame))

    def link_status(self, request: Request) -> Response:
        payment = self._payment_for(request.params["code"])
        return Response.json(
            {
                "data": {
                    "id": payment.id,
                    "status": payment.status,
                    "failReason": payment.fail_reason,
                }
            }
        )

    def link_pay(self, request: Request) -> Response:
        return self._link_settle(request, "completed")

    def link_decline(self, request: Request) -> Response:
        return self._link_settle(request, "failed")

    def _link_settle(self, request: Request, status: str) -> Response:
        """Pay (completed) or Decline (failed) from the hosted payment page."""
        try:
            payment = self._payment_for(request.params["code"])
        except ApiError as exc:
            return self._page_error(exc)
        form = request.form()
        origin = valid_origin(form.get("origin", ""))
        frame = pages.Frame.from_form(form)
        reason = None
        if status == "failed":
            reason = form.get("reason") or "InsufficientBalance"
            if reason not in defaults.FAIL_REASONS:
                return Response.html(pages.message_page("Unknown fail reason", reason), 400)
        elif not form.get("email", "").strip() or not form.get("password", ""):
            return Response.html(
                self._link_page(
                    payment,
                    origin=origin,
                    frame=frame,
                    error="Enter your banq e-mail and password.",
                ),
                400,
            )
        self.settle(payment.id, status=status, reason=reason, via="widget")
        return Response.html(
            pages.link_result(
                payment,
                merchant=self.state.merchant_name_for(payment.banq_guid),
                origin=origin,
                frame=frame,
            )
        )

    def approve(self, request: Request) -> Response:
        try:
            payment = self._payment_for(request.params["code"])
        except ApiError as exc:
            return self._page_error(exc)
        if request.method == "POST":
            self.settle(payment.id, status="completed", reason=None, via="app")
        return Response.html(
            pages.approve_page(payment, merchant=self.state.merchant_name_for(payment.banq_guid))
        )

    # -- control API -------------------------------------------------------------

    def _control_done(self, request: Request, data: Any, status: int = 200) -> Response:
        if request.is_form:
            return Response.redirect("/_emulator/")
        return Response.json({"data": data}, status)

    def state_json(self) -> dict[str, Any]:
        """The emulator's settings and counts; webhook tokens masked."""
        state = self.state
        with state.lock:
            return {
                "url": self.base_url,
                "apiUrl": f"{self.base_url}/api/v1",
                "tokenUrl": f"{self.base_url}/oauth/token",
                "widgetUrl": f"{self.base_url}/widget/ecommerce.js",
                "widgetPageUrl": f"{self.base_url}/widget/",
                "seed": state.seed,
                "retryBackoff": self.retry_backoff,
                "merchant": {
                    "name": state.merchant_name,
                    "accountSpaceId": defaults.ACCOUNT_SPACE_ID,
                    "banqGuid": defaults.MERCHANT_BANQ_GUID,
                    "otherBanqGuids": [defaults.MERCHANT_SECOND_BANQ_GUID],
                },
                "foreignBanqGuid": defaults.FOREIGN_BANQ_GUID,
                "faults": dict(state.faults),
                "installmentClock": {"seconds": state.installment_clock_s},
                "stateFile": str(state.store.path) if state.store else None,
                "webhookConfigs": {k: v.shown_json() for k, v in state.webhook_configs.items()},
                "counts": {
                    "payments": len(state.payments),
                    "transactions": len(state.transactions),
                    "deliveries": len(state.deliveries),
                    "tokens": len(state.tokens),
                },
            }

    def payments_json(self) -> list[dict[str, Any]]:
        with self.state.lock:
            out = []
            for p in self.state.payments.values():
                item = _payment_json(p, self.state)
                item.update(
                    code=p.code,
                    transactionGuid=p.transaction_guid,
                    completedVia=p.completed_via,
                    merchantName=self.state.merchant_name_for(p.banq_guid),
                )
                out.append(item)
            return out

    def c_state(self, request: Request) -> Response:
        return Response.json({"data": self.state_json()})

    def c_reset(self, request: Request) -> Response:
        body = self._body(request)
        seed = body.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            if request.is_form and str(seed).strip().lstrip("-").isdigit():
                seed = int(seed)
            elif request.is_form and not str(seed).strip():
                seed = None
            else:
                raise ApiError(400, "invalid_seed", "seed must be an integer")
        self.state.reset(seed=seed)
        logger.info("State reset")
        return self._control_done(request, self.state_json())

    def c_payments(self, request: Request) -> Response:
        return Response.json({"data": self.payments_json()})

    def _settled_json(self, payment_id: str) -> dict[str, Any]:
        with self.state.lock:
            return _payment_json(self.state.payments[payment_id], self.state)

    def c_done(self, request: Request) -> Response:
        payment_id = request.params["id"]
        if payment_id not in self.state.payments:
            raise ApiError(404, "not_found", "Unknown payment")
        if not self.settle(payment_id, status="completed", reason=None, via="control"):
            raise ApiError(409, "already_settled", "The payment is already completed or failed")
        return self._control_done(request, self._settled_json(payment_id))

    def _reason(self, body: dict[str, Any]) -> str:
        reason = body.get("reason") or "InsufficientBalance"
        if reason not in defaults.FAIL_REASONS:
            raise ApiError(
                400, "invalid_reason", f"reason must be one of: {', '.join(defaults.FAIL_REASONS)}"
            )
        return reason

    def c_fail(self, request: Request) -> Response:
        payment_id = request.params["id"]
        if payment_id not in self.state.payments:
            raise ApiError(404, "not_found", "Unknown payment")
        reason = self._reason(self._body(request))
        if not self.settle(payment_id, status="failed", reason=reason, via="control"):
            raise ApiError(409, "already_settled", "The payment is already completed or failed")
        return self._control_done(request, self._settled_json(payment_id))

    def c_next_installment(self, request: Request) -> Response:
        """Charge the next installment now. Body (optional): {"fail": true, "reason": "..."}.
        Answers the new transaction; 409 when the payment is one-time, not paid, or ended."""
        payment_id = request.params["id"]
        if payment_id not in self.state.payments:
            raise ApiError(404, "not_found", "Unknown payment")
        body = self._body(request)
        fail: Any = body.get("fail", bool(body.get("reason")))  # a reason alone means a failure
        if request.is_form and isinstance(fail, str):
            fail = fail.strip().lower() in ("1", "true", "on", "yes")
        if not isinstance(fail, bool):
            raise ApiError(400, "invalid_fail", "fail must be true or false")
        reason = self._reason(body) if fail else None
        force: Any = body.get("force", False)
        if request.is_form and isinstance(force, str):
            force = force.strip().lower() in ("1", "true", "on", "yes")
        if not isinstance(force, bool):
            raise ApiError(400, "invalid_force", "force must be true or false")
        try:
            transaction = self.next_installment(
                payment_id, fail=fail, reason=reason, via="control", force=force
            )
        except InstallmentError as exc:
            raise ApiError(409, exc.code, str(exc)) from None
        return self._control_done(request, _transaction_json(transaction))

    def c_installment_clock(self, request: Request) -> Response:
        """GET, or set with {"seconds": N} (N real seconds per period) / {"seconds": null} (off)."""
        if request.method != "GET":
            body = self._body(request)
            if "seconds" not in body:
                raise ApiError(400, "invalid_seconds", "seconds is required (a number or null)")
            self.state.set_installment_clock(_clock_seconds(body["seconds"], form=request.is_form))
            logger.info("Installment clock: %s", self.state.installment_clock_s or "off")
        return self._control_done(request, {"seconds": self.state.installment_clock_s})

    def c_deliveries(self, request: Request) -> Response:
        return Response.json({"data": self.state.deliveries_json()})

    def c_resend(self, request: Request) -> Response:
        delivery = self.deliverer.resend(request.params["id"])
        with self.state.lock:
            return self._control_done(request, delivery.as_json(), 202)

    def c_faults(self, request: Request) -> Response:
        state = self.state
        if request.method != "GET":
            body = self._body(request)
            if request.is_form:
                body.setdefault("out_of_order", "false")
                body = {k: v for k, v in body.items() if k in FAULT_DEFAULTS}
            try:
                update = validate_faults(body)
            except FaultError as exc:
                raise ApiError(400, "invalid_fault", str(exc)) from None
            with state.lock:
                base = FAULT_DEFAULTS if request.method == "POST" else state.faults
                state.set_faults({**base, **update})
            logger.info("Faults set: %s", update)
        return self._control_done(request, dict(state.faults))

    def c_webhook(self, request: Request) -> Response:
        """The merchant space's webhook config, in full (it is what deliveries use)."""
        state = self.state
        if request.method == "GET":
            with state.lock:
                config = state.webhook_configs.get(defaults.ACCOUNT_SPACE_ID)
                return Response.json({"data": config.as_json() if config else None})
        body = self._body(request)
        if request.is_form:
            body = _config_from_form(body)
            current = state.webhook_configs.get(defaults.ACCOUNT_SPACE_ID)
            if current and body["url"] and body["url"] == mask_url(current.url) != current.url:
                body["url"] = current.url  # the dashboard shows the URL masked: keep the real one
        if body.get("url") in (None, ""):
            state.set_webhook_config(defaults.ACCOUNT_SPACE_ID, None)
            return self._control_done(request, None)
        config = WebhookConfig(url="")
        _apply_config(config, body)
        state.set_webhook_config(defaults.ACCOUNT_SPACE_ID, config)
        return self._control_done(request, config.as_json())

    def dashboard(self, request: Request) -> Response:
        return Response.html(
            pages.dashboard(
                state=self.state_json(),
                payments=self.payments_json(),
                deliveries=self.state.deliveries_json(),
                fail_reasons=defaults.FAIL_REASONS,
                routes=defaults.API_ROUTES,
            )
        )


def link_code(link: str) -> str | None:
    """The 11-character code of a payment link: the last segment of its path, whatever the host
    (`<emulator>/link/<code>`, or banq's `https://link.banq.com/<code>`); None if there is none."""
    try:
        path = urlsplit(link).path
    except ValueError:
        return None
    segment = path.rstrip("/").rsplit("/", 1)[-1]
    return segment if re.fullmatch(r"[0-9A-Za-z]{11}", segment) else None


def _positive_int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and 0 < int(value) < 100_000 else None


def _clock_seconds(value: Any, *, form: bool) -> float | None:
    if value is None or (form and isinstance(value, str) and not value.strip()):
        return None
    if form and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ApiError(400, "invalid_seconds", "seconds must be a number > 0 or null") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e9:
        raise ApiError(400, "invalid_seconds", "seconds must be a number > 0 or null")
    return float(value)


def _config_from_form(form: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"url": form.get("url", "").strip()}
    body["enabled"] = form.get("enabled", "") in ("on", "true", "1")
    retry = str(form.get("retryCount", "5")).strip() or "5"
    if not retry.isdigit():
        raise ApiError(400, "invalid_retry_count", "retryCount must be a whole number")
    body["retryCount"] = int(retry)
    types = [t.strip() for t in str(form.get("webHookTypes", "")).split(",") if t.strip()]
    body["webHookTypes"] = types or list(defaults.WEBHOOK_TYPES)
    return body


def _apply_config(config: WebhookConfig, body: dict[str, Any]) -> None:
    """Validate the given fields and set them on config (raises ApiError 400)."""
    if "url" in body:
        config.url = _webhook_url(body["url"])
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise ApiError(400, "invalid_enabled", "enabled must be true or false")
        config.enabled = body["enabled"]
    if "retryCount" in body:
        value = body["retryCount"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 20:
            raise ApiError(400, "invalid_retry_count", "retryCount must be an integer 0..20")
        config.retry_count = value
    if "webHookTypes" in body:
        types = body["webHookTypes"]
        if (
            not isinstance(types, list)
            or not types
            or any(t not in defaults.WEBHOOK_TYPES for t in types)
        ):
            raise ApiError(
                400,
                "invalid_webhook_types",
                f"webHookTypes must be a non-empty list of: {', '.join(defaults.WEBHOOK_TYPES)}",
            )
        config.types = list(dict.fromkeys(types))


def make_server(
    app: EmulatorApp, host: str, port: int, public_url: str | None = None
) -> EmulatorHTTPServer:
    """Bind the emulator's HTTP server (raises OSError) and set app.base_url from it."""
    server = make_http_server(app.handle, host, port)
    bound_host, bound_port = server.server_address[:2]
    if isinstance(bound_host, bytes):
        bound_host = bound_host.decode()
    shown = "127.0.0.1" if bound_host in ("0.0.0.0", "") else bound_host
    if ":" in str(shown):
        shown = "[::1]" if shown == "::" else f"[{shown}]"
    app.base_url = (public_url or f"http://{shown}:{bound_port}").rstrip("/")
    return server
