"""Error alerts: Sentry when ``SENTRY_DSN`` is set, else an e-mail to ``ADMINS`` for each server
error; neither ever carries a secret.

**Sentry** (``sentry_init``, called by the settings): sentry-sdk with its Django and logging
integrations, no personal data (``send_default_pii`` off: no cookies, no ``Authorization``, no
client address), no request bodies (a webhook's body is banq's and the shopper's), and every event
and breadcrumb passed through ``event_redact`` before it leaves:

- every string in it, at any depth (messages, exception values, stack frames' local variables,
  URLs, breadcrumbs of log lines), is cleaned by ``storefront.redaction.redact``: the webhook
  token in ``/webhooks/banq/<token>/``, signed order keys (``?key=``), banq access tokens (JWTs,
  ``Bearer ...``), the configured secrets (``storefront.logfilters.configured_secrets``: the
  webhook token, banq's client id and password, the secret key, the metrics token, the mail and
  database passwords), and this request's own (``request_secrets``: its cookies, the session key,
  the CSRF token and header, the ``key`` parameter, the ``Authorization`` value);
- sentry-sdk's scrubber also blanks values by their key, at any depth, with the store's names
  added (``session_key``, ``key``, ``access_token``...).

The request being handled is known to the redaction through ``RequestContextMiddleware`` (a
context variable: the events of a request are built in its thread).

**Mail** (``AdminMailHandler``, on the ``django.request`` logger when ``ADMINS`` is set and Sentry
is not): Django's error report, its subject and text cleaned the same way, handed to a background
thread that sends it: a request never waits on the mail server, and at most ``MAIL_PER_MINUTE``
reports a minute leave one process (an error storm is not a mail storm).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from contextvars import ContextVar
from typing import Any

from django.core import mail
from django.http import HttpRequest
from django.utils.log import AdminEmailHandler

from storefront.logfilters import configured_secrets
from storefront.redaction import redact

logger = logging.getLogger(__name__)

CURRENT_REQUEST: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)
# Keys whose values sentry-sdk's scrubber blanks, besides its own list (password, token, secret,
# cookie, authorization, csrftoken, sessionid...).
EXTRA_DENYLIST = [
    "key",
    "access_key",
    "session_key",
    "signed_url",
    "access_token",
    "refresh_token",
    "client_id",
    "webhook_token",
    "csrfmiddlewaretoken",
    "csrf_cookie",
    "http_authorization",
    "http_cookie",
    "http_x_csrftoken",
]
MIN_SECRET = 8
MAIL_PER_MINUTE = 10
MAIL_QUEUE = 20


class RequestContextMiddleware:
    """Makes the request being handled known to the redaction of alerts (module doc)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        token = CURRENT_REQUEST.set(request)
        try:
            return self.get_response(request)
        finally:
            CURRENT_REQUEST.reset(token)


def request_secrets(request: HttpRequest | None) -> tuple[str, ...]:
    """The secrets a request carries: its cookie values (the session and CSRF cookies among
    them), the session key, the CSRF token and header, the signed-link ``key``, the
    ``Authorization`` value."""
    if request is None:
        return ()
    meta = getattr(request, "META", {})
    found: list[str] = list(getattr(request, "COOKIES", {}).values())
    found += [meta.get("HTTP_X_CSRFTOKEN", ""), meta.get("CSRF_COOKIE", "")]
    found.append(meta.get("HTTP_AUTHORIZATION", "").partition(" ")[2])
    query = getattr(request, "GET", None)
    found += query.getlist("key") if query is not None else []
    session = getattr(request, "session", None)
    found.append(getattr(session, "session_key", None) or "")
    return tuple({str(v) for v in found if v and len(str(v)) >= MIN_SECRET})


def secrets_now() -> tuple[str, ...]:
    """The configured secrets and those of the request being handled, longest first (a secret
    that contains another is replaced whole)."""
    found = {*configured_secrets(), *request_secrets(CURRENT_REQUEST.get())}
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


def redact_value(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` (a JSON-like structure) with every string in it, keys included, redacted."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact_value(k, secrets): redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item, secrets) for item in value]
    return value


def event_redact(event: Any, hint: Any = None) -> Any:
    """Sentry's ``before_send`` and ``before_breadcrumb``: the event cleaned of secrets."""
    cleaned = redact_value(event, secrets_now())
    request = cleaned.get("request") if isinstance(cleaned, dict) else None
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("data", None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            for name in [h for h in headers if h.lower() in ("cookie", "authorization")]:
                headers.pop(name)
    return cleaned


def sentry_init(*, dsn: str, environment: str, transport: Any = None) -> None:
    """sentry-sdk for this process (see the module doc). ``transport``: where events go instead
    of Sentry's servers (the tests keep them)."""
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), LoggingIntegration(event_level=logging.ERROR)],
        # No personal data: sentry-sdk's default, so not set (the option is being replaced).
        max_request_body_size="never",
        event_scrubber=EventScrubber(denylist=[*DEFAULT_DENYLIST, *EXTRA_DENYLIST], recursive=True),
        before_send=event_redact,
        before_breadcrumb=event_redact,
        **({"transport": transport} if transport is not None else {}),
    )


class _MailSender:
    """One background thread that sends queued reports, at most ``MAIL_PER_MINUTE``."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[str, str]] = queue.Queue(maxsize=MAIL_QUEUE)
        self.sent: deque[float] = deque()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def submit(self, subject: str, message: str) -> bool:
        """Queue a report; False when it is dropped (over the rate, or the queue is full)."""
        now = time.monotonic()
        with self.lock:
            while self.sent and now - self.sent[0] > 60:
                self.sent.popleft()
            if len(self.sent) >= MAIL_PER_MINUTE:
                return False
            try:
                self.queue.put_nowait((subject, message))
            except queue.Full:
                return False
            self.sent.append(now)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="admin-mail", daemon=True)
                self.thread.start()
        return True

    def _run(self) -> None:
        while True:
            subject, message = self.queue.get()
            try:
                mail.mail_admins(subject, message, fail_silently=True)
            finally:
                self.queue.task_done()

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until the queued reports are sent (tests)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)


mail_sender = _MailSender()
_mail_secrets = threading.local()


class AdminMailHandler(AdminEmailHandler):
    """Django's error mail to ``ADMINS``, cleaned of secrets and sent in the background (see the
    module doc)."""

    def emit(self, record: logging.LogRecord) -> None:
        request = getattr(record, "request", None)
        found = {*configured_secrets(), *request_secrets(request), *secrets_now()}
        _mail_secrets.value = tuple(sorted((s for s in found if s), key=len, reverse=True))
        try:
            super().emit(record)
        finally:
            _mail_secrets.value = ()

    def send_mail(self, subject: Any, message: Any, *args: Any, **kwargs: Any) -> None:
        secrets = getattr(_mail_secrets, "value", ())
        if not mail_sender.submit(redact(str(subject), secrets), redact(str(message), secrets)):
            logger.warning("Server error report not mailed: too many in the last minute")
