"""Errors of the webhooks app."""

from __future__ import annotations


class InvalidWebhookPayload(Exception):
    """A webhook body we cannot read. ``str(exc)`` says why; it never quotes the body."""

    def __init__(self, message: str = "The webhook body could not be read.") -> None:
        super().__init__(message)
