"""The ``BanqError`` family: everything ``banq.client`` and ``banq.payloads`` raise.

``str(exc)`` is safe to show an operator and to log: it never contains a token, a password, the
webhook token or a whole payload. Shoppers get a generic message from the view instead.
"""

from __future__ import annotations


class BanqError(Exception):
    """Base class. ``status_code`` is banq's HTTP status when there was an answer, else None."""

    default_message = "banq request failed."

    def __init__(self, message: str | None = None, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message or self.default_message)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.default_message


class BanqConfigError(BanqError):
    """The banq settings are unusable (for example a missing credential)."""

    default_message = "banq is not configured."


class BanqUnavailable(BanqError):
    """Network error, timeout, 5xx or 429: banq could not answer now. Safe to retry later."""

    default_message = "banq is unavailable."


class BanqAuthError(BanqError):
    """banq refused our credentials or our token."""

    default_message = "banq refused the credentials."


class BanqRequestError(BanqError):
    """banq answered 4xx: our request was refused. ``str(exc)`` carries banq's message."""

    default_message = "banq refused the request."


class BanqNotFound(BanqRequestError):
    """banq answered 404 for the requested resource."""

    default_message = "banq does not know that resource."


class BanqPayloadError(BanqError):
    """banq's answer has a shape we cannot read. Names the keys present, never their values."""

    default_message = "banq's answer could not be read."
