"""Installment dates of recurring payments.

Installment n (0-based; n = 0 is the payment itself) is due on start + n periods, always computed
from the start date rather than chained from the previous installment, so a month-end start keeps
falling on month ends: Jan 31 -> Feb 28 (29 in a leap year) -> Mar 31 -> Apr 30. A yearly Feb 29
start falls on Feb 28 in other years.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

RECURRING = ("weekly", "monthly", "yearly")


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def installment_date(start: date, frequency: str, n: int) -> date:
    """The due date of installment n. Raises ValueError for a one-time frequency when n > 0."""
    if n < 0:
        raise ValueError("installment numbers start at 0")
    if n == 0:
        return start
    if frequency == "weekly":
        return start + timedelta(weeks=n)
    if frequency == "monthly":
        months = start.month - 1 + n
        return _clamped(start.year + months // 12, months % 12 + 1, start.day)
    if frequency == "yearly":
        return _clamped(start.year + n, start.month, start.day)
    raise ValueError(f"a {frequency!r} payment has no installments after the first")
