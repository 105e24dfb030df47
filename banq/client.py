"""The only code that speaks HTTP to banq.

``get_banq_client()`` builds a ``BanqClient`` from ``banq.settings.banq_settings()`` (a missing
setting raises ``BanqConfigError`` naming it, when called, never at import). The client keeps one
pooled ``requests.Session``, puts an explicit ``(connect, read)`` timeout on every call and
returns the typed objects of ``banq.payloads``; it raises only the ``BanqError`` family.
``get_banq_client(in_request=True)`` is the variant for code that runs inside a request (webhook,
shopper's confirm, Pay): no retries and short timeouts; with ``banq_budget(seconds)`` around the
work, every call also fits in what is left of that budget.

Token: password grant, shared by every process of the store (web workers, task worker, commands)
through the ``banq`` cache when there is one (``.run/`` files by default), else the default cache
(Redis in production), under a key that holds no secret, until a few minutes before it expires;
each process also keeps the token it last saw in memory, so a call costs no cache round trip. A
process-wide ``threading.Lock`` plus a short ``cache.add`` lock across processes make a cold start
fetch one token, not one per thread or process. A 401 from the API drops the token and retries
that call once with a fresh one. A cache that fails (a read-only ``.run/``) costs a token per
process, never a payment.

Retries are urllib3's ``Retry`` on the session's adapters (``BANQ_RETRIES``, exponential backoff
from ``BANQ_RETRY_BACKOFF``, ``Retry-After`` honoured up to ``MAX_RETRY_AFTER``): GETs and the
token call on connection errors, timeouts, 429 and 5xx; any call, link creation included, when
the connection never opened (banq saw nothing). Creating a payment link is not idempotent on
banq's side, so once sent it is never retried; no 4xx is.

Every call is logged at INFO with method, path, status and duration (and each retry at WARNING),
and nothing else: no token, password, Authorization header or body.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.signals import setting_changed
from django.dispatch import receiver
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from banq import payloads
from banq.exceptions import (
    BanqAuthError,
    BanqConfigError,
    BanqError,
    BanqNotFound,
    BanqPayloadError,
    BanqRequestError,
    BanqUnavailable,
)
from banq.payloads import (
    PaymentLink,
    RemotePayment,
    RemoteTransaction,
    Token,
    UserProfile,
    WebhookConfig,
)
from banq.settings import API_CREDENTIALS, BanqSettings, banq_settings
from storefront import metrics
from storefront.redaction import redact

logger = logging.getLogger(__name__)

TOKEN_REFRESH_MARGIN = timedelta(minutes=3)
TOKEN_LOCK_TTL = 30  # seconds a cross-process token lock may be held
TOKEN_LOCK_WAIT = 15.0  # seconds a waiter polls for another process's token before fetching
USER_AGENT = "banq-storefront/1.0"
MAX_ERROR_MESSAGE = 200
MAX_RETRY_AFTER = 10.0  # seconds: a longer Retry-After from banq ends the retries instead
RETRY_STATUSES = (429, 500, 502, 503, 504)
# Inside a request: banq retries webhooks itself and the shopper can press again.
IN_REQUEST_CONNECT_TIMEOUT = 2.0
IN_REQUEST_READ_TIMEOUT = 5.0

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "banq_deadline", default=None
)


@contextlib.contextmanager
def banq_budget(seconds: float) -> Iterator[None]:
    """Every banq call made inside fits in ``seconds`` from now, in all; once they are spent, a
    call raises ``BanqUnavailable`` without being sent. Nested budgets keep the earlier end."""
    end = time.monotonic() + max(0.0, seconds)
    outer = _deadline.get()
    token = _deadline.set(end if outer is None else min(outer, end))
    try:
        yield
    finally:
        _deadline.reset(token)


def _remaining() -> float | None:
    end = _deadline.get()
    return None if end is None else end - time.monotonic()


def banq_budget_left(*, default: float = 0.0) -> float:
    """Seconds left of the ``banq_budget`` around the caller (``default`` outside one)."""
    left = _remaining()
    return default if left is None else max(0.0, left)


class _LoggedRetry(Retry):
    """urllib3's ``Retry``, logging each retry, and giving up on a ``Retry-After`` longer than
    ``MAX_RETRY_AFTER`` (a request must not sleep for minutes)."""

    def increment(  # type: ignore[override]
        self, method=None, url=None, response=None, error=None, _pool=None, **kwargs
    ):
        if response is not None:
            retry_after = self.get_retry_after(response)
            if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                raise MaxRetryError(_pool, url or "", error)
        new = super().increment(method, url, response, error, _pool, **kwargs)
        what = response.status if response is not None else type(error).__name__
        logger.warning(
            "banq %s %s -> %s, retrying (%s left)",
            method,
            urlsplit(url or "").path,
            what,
            new.total,
        )
        return new


def _retry(retries: int, backoff: float, methods: Iterable[str]) -> Retry:
    return _LoggedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=frozenset(methods),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )


_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()

TOKEN_CACHE_ALIAS = "banq"
# The token this process last read or fetched, by cache key (see the module doc).
_token_memo: dict[str, Token] = {}


def forget_tokens() -> None:
    """Forget the tokens this process holds in memory (the shared cache keeps its copy)."""
    _token_memo.clear()


def token_cache():
    alias = TOKEN_CACHE_ALIAS if TOKEN_CACHE_ALIAS in settings.CACHES else DEFAULT_CACHE_ALIAS
    return caches[alias]


def _shared(operation: str, default: Any, *args: Any, **kwargs: Any) -> Any:
    """``operation`` on the token cache; on a failing cache, logs (no key, no value) and returns
    ``default``."""
    try:
        return getattr(token_cache(), operation)(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any cache failure degrades to a token per process
        logger.warning("banq token cache: %s failed (%s)", operation, type(exc).__name__)
        return default


def _process_lock(key: str) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(key, threading.Lock())


class BanqClient:
    """banq's Open API for one configuration.

    ``retries`` and the timeouts default to the settings; ``get_banq_client(in_request=True)``
    passes the in-request values.
    """

    def __init__(
        self,
        config: BanqSettings,
        *,
        retries: int | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        session: requests.Session | None = None,
    ):
        self.config = config
        self.retries = config.retries if retries is None else max(0, retries)
        self.connect_timeout = (
            config.connect_timeout if connect_timeout is None else connect_timeout
        )
        self.read_timeout = config.read_timeout if read_timeout is None else read_timeout
        self.session = session or self._new_session()
        # The password is part of the (hashed) key, so changed credentials never reuse a token
        # cached for the old ones; the key itself reveals nothing.
        fingerprint = "|".join(
            (config.token_url, config.client_id, config.username, config.password, config.audience)
        )
        digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
        self.token_cache_key = f"banq:token:{digest}"
        self._token_lock_key = f"banq:token-lock:{digest}"

    def __repr__(self) -> str:
        return f"BanqClient(api_url={self.config.api_url!r})"

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        backoff = self.config.retry_backoff

        def adapter(methods: Iterable[str]) -> requests.adapters.HTTPAdapter:
            return requests.adapters.HTTPAdapter(
                pool_connections=4,
                pool_maxsize=20,
                max_retries=_retry(self.retries, backoff, methods),
            )

        api = adapter(("GET",))  # status and read retries for GETs only; connect for all
        session.mount("https://", api)
        session.mount("http://", api)
        if self.config.token_url:  # the token call is safe to repeat: POST retried too
            session.mount(self.config.token_url, adapter(("GET", "POST")))
        session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        _environment_once(session, (self.config.api_url, self.config.token_url))
        return session

    # --- public calls ------------------------------------------------------------------------

    def create_payment_link(
        self,
        *,
        order_code: str,
        funds: Decimal,
        comment: str,
        frequency: str = "once",
        start_date: date | None = None,
        end_date: date | None = None,
    ) -> PaymentLink:
        """POST /payments/get-paid-link. Not retried once sent: banq may have made the payment."""
        if not order_code:
            raise ValueError("order_code is required")
        if frequency not in self.config.frequencies:
            raise ValueError(f"unknown frequency {frequency!r}")
        body: dict[str, Any] = {
            "destination": {"banqGuid": self.config.merchant_guid},
            "comment": comment[:200],
            "funds": funds if isinstance(funds, Decimal) else _refuse_float(funds),
            "externalOrderCode": order_code,
            "frequency": frequency,
        }
        if start_date is not None:
            body["startDate"] = start_date.isoformat()
        if end_date is not None:
            body["endDate"] = end_date.isoformat()
        response = self._api("POST", "/payments/get-paid-link", body=body)
        location = response.headers.get("Location")
        if location:
            location = urljoin(self.config.api_url + "/", location)
        return payloads.parse_payment_link(_decode(response), location=location)

    def get_payment(self, payment_id: str) -> RemotePayment:
        path = f"/payments/{_segment(payment_id, 'payment id')}"
        return payloads.parse_payment(_decode(self._api("GET", path)))

    def cancel_recurring_payment(self, payment_id: str) -> None:
        """POST /payments/{id}/cancel: stop charging a recurring payment's installments.

        banq's recurring API is undocumented: the emulator models this path and
        ``manage.py banq_check`` reports whether real banq answers it. Returns once banq said
        yes (any 2xx); raises ``BanqNotFound`` (no such path or payment), ``BanqRequestError``
        (refused) or ``BanqUnavailable`` otherwise."""
        self._api("POST", f"/payments/{_segment(payment_id, 'payment id')}/cancel", body={})

    def get_transaction(self, guid: str) -> RemoteTransaction:
        path = f"/transactions/{_segment(guid, 'transaction guid')}"
        return payloads.parse_transaction(_decode(self._api("GET", path)))

    def get_webhook_config(self, space_id: str | None = None) -> WebhookConfig | None:
        """The account space's webhook config, or None when banq has none (404 or empty)."""
        try:
            response = self._api("GET", self._webhook_path(space_id))
        except BanqNotFound:
            return None
        data = _decode(response)
        if data in (None, {}, []):
            return None
        return payloads.parse_webhook_config(data)

    def create_webhook_config(
        self,
        *,
        url: str,
        enabled: bool = True,
        retry_count: int = 5,
        types: Iterable[str] = ("payment", "transaction"),
        space_id: str | None = None,
    ) -> WebhookConfig:
        body = {
            "url": url,
            "enabled": bool(enabled),
            "retryCount": int(retry_count),
            "webHookTypes": list(types),
        }
        response = self._api("POST", self._webhook_path(space_id), body=body)
        data = _decode(response)
        if data in (None, {}, []):  # banq's answer body is undocumented: echo what we sent
            data = body
        return payloads.parse_webhook_config(data)

    def update_webhook_config(
        self,
        *,
        url: str | None = None,
        enabled: bool | None = None,
        retry_count: int | None = None,
        types: Iterable[str] | None = None,
        space_id: str | None = None,
    ) -> WebhookConfig:
        """PATCH the given fields only; returns the config as banq then holds it."""
        body: dict[str, Any] = {}
        if url is not None:
            body["url"] = url
        if enabled is not None:
            body["enabled"] = bool(enabled)
        if retry_count is not None:
            body["retryCount"] = int(retry_count)
        if types is not None:
            body["webHookTypes"] = list(types)
        response = self._api("PATCH", self._webhook_path(space_id), body=body)
        data = _decode(response)
        if data in (None, {}, []):
            current = self.get_webhook_config(space_id)
            if current is not None:
                return current
            data = body
        return payloads.parse_webhook_config(data)

    def users_me(self, *, email: str, password: str) -> UserProfile:
        """users/me with a merchant-user token. The credentials are used for this call only:
        never stored, cached or logged."""
        if not self.config.user_client_id:
            raise BanqConfigError("BANQ_USER_CLIENT_ID is not set.")
        fields = {
            "client_id": self.config.user_client_id,
            "username": email,
            "password": password,
            "audience": self.config.user_audience,
            "scope": "offline_access",
            "grant_type": "password",
        }
        token = self._request_token(fields, secrets=(email, password))
        response = self._send(
            "GET",
            "/users/me",
            params={"include": "accountSpaces,banqAccounts"},
            token=token.access_token,
            secrets=(email, password, token.access_token),
        )
        if response.status_code == 401:
            raise BanqAuthError("banq refused the merchant-user token (401).", status_code=401)
        return payloads.parse_user_profile(_decode(response))

    # --- token -------------------------------------------------------------------------------

    def get_token(self) -> Token:
        """The Open API token: this process's own while fresh, else the shared cache's, else
        fetched (once, under a lock)."""
        token = _token_memo.get(self.token_cache_key)
        if token is not None and token.is_fresh(margin=TOKEN_REFRESH_MARGIN):
            return token
        token = self._cached_token()
        if token is not None:
            return token
        with _process_lock(self.token_cache_key):
            token = self._cached_token()
            if token is not None:
                return token
            left = _remaining()
            deadline = time.monotonic() + (
                TOKEN_LOCK_WAIT if left is None else max(0.0, min(TOKEN_LOCK_WAIT, left))
            )
            while True:
                # A failing cache counts as holding the lock: fetch rather than wait.
                if _shared("add", True, self._token_lock_key, "1", timeout=TOKEN_LOCK_TTL):
                    try:
                        token = self._cached_token()
                        if token is None:
                            token = self._fetch_token()
                            self._store_token(token)
                        return token
                    finally:
                        _shared("delete", None, self._token_lock_key)
                # Another process is fetching: wait for its token rather than asking again.
                time.sleep(0.05)
                token = self._cached_token()
                if token is not None:
                    return token
                if time.monotonic() > deadline:  # the other process died holding the lock
                    token = self._fetch_token()
                    self._store_token(token)
                    return token

    def drop_token(self, access_token: str | None = None) -> None:
        """Forget the token (only if it is still ``access_token``, when given)."""
        memo = _token_memo.get(self.token_cache_key)
        if memo is not None and access_token in (None, memo.access_token):
            _token_memo.pop(self.token_cache_key, None)
        if access_token is not None:
            cached = _shared("get", None, self.token_cache_key)
            if not cached or cached[0] != access_token:
                return
        _shared("delete", None, self.token_cache_key)

    def _cached_token(self) -> Token | None:
        """The shared cache's token while fresh (remembered in this process), else None."""
        cached = _shared("get", None, self.token_cache_key)
        if not cached:
            return None
        try:
            access_token, expires_ts = cached
            token = Token(
                access_token=access_token, expires_at=datetime.fromtimestamp(expires_ts, UTC)
            )
        except (TypeError, ValueError, OverflowError, OSError):
            return None
        if not token.is_fresh(margin=TOKEN_REFRESH_MARGIN):
            return None
        _token_memo[self.token_cache_key] = token
        return token

    def _store_token(self, token: Token) -> None:
        lifetime = (token.expires_at - datetime.now(UTC)).total_seconds()
        timeout = int(lifetime - TOKEN_REFRESH_MARGIN.total_seconds())
        if timeout <= 0:
            return  # too short-lived to be worth caching: it's used for this call only
        _token_memo[self.token_cache_key] = token
        _shared(
            "set",
            None,
            self.token_cache_key,
            (token.access_token, token.expires_at.timestamp()),
            timeout,
        )

    def _fetch_token(self) -> Token:
        c = self.config
        if c.token_field_style == "client_username":
            credentials = {"client_username": c.username, "client_password": c.password}
        else:
            credentials = {"username": c.username, "password": c.password}
        fields = {
            "client_id": c.client_id,
            **credentials,
            "audience": c.audience,
            "grant_type": "password",
        }
        return self._request_token(fields, secrets=(c.password, c.username, c.client_id))

    def _request_token(self, fields: Mapping[str, str], *, secrets: Iterable[str]) -> Token:
        secrets = tuple(secrets)
        path = urlsplit(self.config.token_url).path or "/"
        response = self._transport(
            "POST",
            self.config.token_url,
            log_path=path,
            body=dict(fields),
            headers={},
            secrets=secrets,
        )
        if response.status_code >= 400:
            message = redact(_error_message(response), secrets)
            raise BanqAuthError(
                f"banq refused the token request ({response.status_code}): {message}",
                status_code=response.status_code,
            )
        try:
            return payloads.parse_token(_decode(response))
        except BanqPayloadError as exc:
            raise BanqPayloadError(redact(str(exc), secrets), status_code=200) from None

    # --- HTTP --------------------------------------------------------------------------------

    def _webhook_path(self, space_id: str | None) -> str:
        space = space_id or self.config.account_space_id
        if not space:
            raise BanqConfigError("BANQ_ACCOUNT_SPACE_ID is not set.")
        return f"/account-spaces/{_segment(space, 'account space id')}/webhook-config"

    def _api(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        """An Open API call with the cached token; a 401 refreshes the token and retries once."""
        token = self.get_token()
        response = self._send(method, path, body=body, token=token.access_token)
        if response.status_code == 401:
            logger.info("banq %s %s: token refused, fetching a new one", method, path)
            self.drop_token(token.access_token)
            token = self.get_token()
            response = self._send(method, path, body=body, token=token.access_token)
            if response.status_code == 401:
                raise BanqAuthError(
                    f"banq refused a fresh token for {method} {path} (401).", status_code=401
                )
        return response

    def _send(
        self,
        method: str,
        path: str,
        *,
        token: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
    ) -> requests.Response:
        """Send an API call; answer 2xx and 401 (the caller handles it), raise for the rest."""
        headers = {"Authorization": f"Bearer {token}"}
        if self.config.company_id:
            headers["X-Company-Id"] = self.config.company_id
        secrets = (*tuple(secrets), token, self.config.password)
        response = self._transport(
            method,
            self.config.api_url + path,
            log_path=path,
            body=body,
            params=params,
            headers=headers,
            secrets=secrets,
        )
        status = response.status_code
        if status < 400 or status == 401:
            return response
        message = redact(_error_message(response), secrets)
        where = f"{method} {path}"
        if status == 404:
            raise BanqNotFound(f"banq: {where} not found (404): {message}", status_code=404)
        if status == 403:
            raise BanqAuthError(f"banq refused {where} (403): {message}", status_code=403)
        raise BanqRequestError(f"banq refused {where} ({status}): {message}", status_code=status)

    def _transport(
        self,
        method: str,
        url: str,
        *,
        log_path: str,
        headers: Mapping[str, str],
        secrets: Iterable[str],
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One HTTP exchange (retried by the adapter as the module doc says). Raises
        ``BanqUnavailable`` for network trouble, timeouts, 429 and 5xx, and when the budget of
        ``banq_budget`` is spent; any other status is returned."""
        data = None
        send_headers = dict(headers)
        if body is not None:
            data = payloads.dumps(body).encode("utf-8")
            send_headers["Content-Type"] = "application/json"
        connect, read = self.connect_timeout, self.read_timeout
        left = _remaining()
        if left is not None:
            if left <= 0.05:
                raise BanqUnavailable(f"banq {method} {log_path}: no time left to ask banq.")
            connect, read = min(connect, left), min(read, left)
        started = time.monotonic()
        try:
            response = self.session.request(
                method, url, data=data, params=params, headers=send_headers, timeout=(connect, read)
            )
        except requests.Timeout:
            elapsed = time.monotonic() - started
            _observed(method, log_path, "timeout", elapsed)
            logger.warning("banq %s %s -> timeout after %.0f ms", method, log_path, elapsed * 1000)
            raise BanqUnavailable(f"banq {method} {log_path} timed out.") from None
        except requests.RequestException as exc:
            _observed(method, log_path, "error", time.monotonic() - started)
            logger.warning("banq %s %s -> %s", method, log_path, type(exc).__name__)
            raise BanqUnavailable(
                f"banq {method} {log_path} could not be reached ({type(exc).__name__})."
            ) from None
        elapsed = (time.monotonic() - started) * 1000
        _observed(method, log_path, str(response.status_code), elapsed / 1000)
        logger.info("banq %s %s -> %s in %.0f ms", method, log_path, response.status_code, elapsed)
        status = response.status_code
        if status == 429 or status >= 500:
            problem = redact(_error_message(response), secrets)
            raise BanqUnavailable(
                f"banq {method} {log_path} answered {status}: {problem}.", status_code=status
            )
        return response


# --- helpers -------------------------------------------------------------------------------

# Path segments after these name one object (an id): metrics count them as one endpoint.
_ID_AFTER = frozenset({"payments", "transactions", "account-spaces"})
_NOT_IDS = frozenset({"get-paid-link"})


def endpoint_of(path: str) -> str:
    """A call's path as an endpoint for metrics: ``/payments/{id}``, ``/oauth/token``..."""
    parts = path.split("?", 1)[0].split("/")
    for i in range(1, len(parts)):
        if parts[i - 1] in _ID_AFTER and parts[i] and parts[i] not in _NOT_IDS:
            parts[i] = "{id}"
    return "/".join(parts) or "/"


def _observed(method: str, log_path: str, status: str, seconds: float) -> None:
    metrics.banq_call_observed(
        endpoint=endpoint_of(log_path), method=method, status=status, seconds=seconds
    )


def _environment_once(session: requests.Session, urls: Iterable[str]) -> None:
    """What requests reads from the environment on every call (proxies, a CA bundle), read once.

    requests looks through the whole environment on each request for proxy and CA-bundle
    variables, a large share of a call's CPU. They don't change while the process runs: the
    proxies for banq's hosts and the bundle are set on the session here, and the per-call
    lookup is turned off. When banq's hosts would need different proxies, the session keeps
    requests' own per-call lookup.
    """
    found = {frozenset(requests.utils.get_environ_proxies(url).items()) for url in urls if url}
    if len(found) > 1:
        return
    session.trust_env = False
    session.proxies.update(dict(next(iter(found), frozenset())))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle


def _refuse_float(value: Any) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError("funds must be a Decimal, never a float")


def _segment(value: Any, what: str) -> str:
    text = str(value or "").strip()
    if not text or len(text) > 200:
        raise BanqRequestError(f"invalid {what}.")
    return quote(text, safe="")


def _decode(response: requests.Response) -> Any:
    if not response.content or not response.content.strip():
        return None
    try:
        return payloads.loads(response.content)
    except BanqPayloadError as exc:
        raise BanqPayloadError(str(exc), status_code=response.status_code) from None


def _error_message(response: requests.Response) -> str:
    """banq's error message, whatever its shape, shortened; ``HTTP <status>`` when there is none."""
    try:
        data = payloads.loads(response.content) if response.content else None
    except BanqPayloadError:
        data = None
    message: Any = None
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping):
            message = error.get("message") or error.get("code")
        elif isinstance(error, str):
            message = data.get("error_description") or data.get("message") or error
        if not message:
            message = data.get("message") or data.get("detail") or data.get("title")
    if not isinstance(message, str) or not message.strip():
        return f"HTTP {response.status_code}"
    message = " ".join(message.split())
    if len(message) > MAX_ERROR_MESSAGE:
        message = message[: MAX_ERROR_MESSAGE - 3] + "..."
    return message


# --- construction --------------------------------------------------------------------------

_clients: dict[tuple, BanqClient] = {}
_clients_guard = threading.Lock()


def get_banq_client(*, in_request: bool = False) -> BanqClient:
    """The client for the current settings (one per configuration and kind, so one pool each).

    ``in_request``: no retries and short timeouts, for code that runs while someone waits.
    Raises ``BanqConfigError`` naming the first missing setting.
    """
    config = banq_settings()
    config.require("BANQ_TOKEN_URL", "BANQ_API_URL", *API_CREDENTIALS)
    key = (config, in_request)
    with _clients_guard:
        client = _clients.get(key)
        if client is None:
            if in_request:
                client = BanqClient(
                    config,
                    retries=0,
                    connect_timeout=min(config.connect_timeout, IN_REQUEST_CONNECT_TIMEOUT),
                    read_timeout=min(config.read_timeout, IN_REQUEST_READ_TIMEOUT),
                )
            else:
                client = BanqClient(config)
            _clients[key] = client
        return client


def get_banq_user_client() -> BanqClient:
    """A client for the merchant-user flow only (``users_me``): it needs no Open API credential,
    because ``banq_accounts`` is how a new merchant finds BANQ_MERCHANT_GUID and
    BANQ_ACCOUNT_SPACE_ID. Raises ``BanqConfigError``."""
    config = banq_settings()
    config.require("BANQ_TOKEN_URL", "BANQ_API_URL", "BANQ_USER_CLIENT_ID")
    return BanqClient(config)


@receiver(setting_changed)
def _drop_clients(**kwargs) -> None:
    """Changed settings make new clients: close the pools of the old ones."""
    forget_tokens()
    with _clients_guard:
        for client in _clients.values():
            client.session.close()
        _clients.clear()


__all__ = [
    "BanqClient",
    "BanqError",
    "banq_budget",
    "banq_budget_left",
    "get_banq_client",
    "get_banq_user_client",
]
