"""Shared bits of the banq operator commands: ✓/✗ lines and turning banq errors into exits.

Every message here comes from ``BanqError`` texts, which never hold a
secret (``banq.exceptions``); URLs with the webhook token go through ``webhook_url_mask``.
"""

from __future__ import annotations

from django.core.management.base import CommandError

from banq.exceptions import BanqAuthError, BanqConfigError, BanqError, BanqUnavailable

OK = "✓"
BAD = "✗"


def banq_command_error(exc: Exception, *, doing: str) -> CommandError:
    """A ``CommandError`` (exit 1) saying what failed while ``doing`` something, and what to do."""
    if isinstance(exc, BanqConfigError):
        return CommandError(f"{doing}: banq is not configured: {exc}")
    if isinstance(exc, BanqUnavailable):
        return CommandError(f"{doing}: banq could not be reached: {exc} Try again later.")
    if isinstance(exc, BanqAuthError):
        return CommandError(
            f"{doing}: banq refused our credentials: {exc} Check BANQ_CLIENT_ID, BANQ_USERNAME "
            "and BANQ_PASSWORD (and BANQ_ENVIRONMENT)."
        )
    if isinstance(exc, BanqError):
        return CommandError(f"{doing}: {exc}")
    return CommandError(f"{doing}: {type(exc).__name__}")


def table(rows: list[tuple[str, ...]], headers: tuple[str, ...]) -> list[str]:
    """Rows as left-aligned columns under ``headers``."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headers), line(tuple("-" * w for w in widths)), *(line(r) for r in rows)]
