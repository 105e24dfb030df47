"""Schedules of recurring plans: when each installment is due. Dates only, no times of day.

Installment ``n`` (0 for the first, paid at checkout) is due ``n`` periods after the plan's start,
computed from the start each time, never chained from the previous due date: a plan started on
January 31 is due on Feb 28 (29 in a leap year), Mar 31, Apr 30, ... A yearly plan started on
Feb 29 is due on Feb 28 in the years without one. Weekly plans count whole days, so a change to or
from summer time moves nothing. A payment provider's schedule must follow the same rule.

A plan ends after ``periods`` installments, or with the last installment due on or before its
``end`` date, or never.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

ONCE = "once"
WEEKLY = "weekly"
MONTHLY = "monthly"
YEARLY = "yearly"
RECURRING = (WEEKLY, MONTHLY, YEARLY)
PERIOD_WORDS = {WEEKLY: "week", MONTHLY: "month", YEARLY: "year"}


def _add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def due_date(*, start: date, frequency: str, n: int) -> date:
    """When installment ``n`` (0-based) of a plan starting on ``start`` is due."""
    if n < 0:
        raise ValueError("installment numbers start at 0")
    if frequency == WEEKLY:
        return start + timedelta(weeks=n)
    if frequency == MONTHLY:
        return _add_months(start, n)
    if frequency == YEARLY:
        return _add_months(start, 12 * n)
    if frequency == ONCE:
        if n:
            raise ValueError("a one-time payment has one installment")
        return start
    raise ValueError(f"unknown frequency {frequency!r}")


@dataclass(frozen=True)
class Plan:
    """A recurring plan: ``amount`` every period from ``start``, for ``periods`` installments or
    until ``end`` (the last due date on or before it), or with no end when both are None."""

    frequency: str
    start: date
    periods: int | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        if self.frequency not in RECURRING:
            raise ValueError(f"not a recurring frequency: {self.frequency!r}")
        if self.periods is not None and self.periods < 1:
            raise ValueError("a plan has at least one installment")
        if self.end is not None and self.end < self.start:
            raise ValueError("a plan can't end before it starts")

    def due(self, n: int) -> date | None:
        """Installment ``n``'s due date, or None when the plan has ended before it."""
        if self.periods is not None and n >= self.periods:
            return None
        when = due_date(start=self.start, frequency=self.frequency, n=n)
        if self.end is not None and when > self.end:
            return None
        return when

    @property
    def count(self) -> int | None:
        """How many installments in all (None: no end)."""
        if self.periods is not None:
            if self.end is None:
                return self.periods
            return sum(1 for n in range(self.periods) if self.due(n) is not None)
        if self.end is None:
            return None
        n = 0
        while self.due(n) is not None:
            n += 1
        return n

    @property
    def last_due(self) -> date | None:
        count = self.count
        return None if count is None else self.due(count - 1)

    def describe(self, amount: str, *, today: date | None = None) -> str:
        """In words, e.g. "$9.90 every month, starting 25 Nov 2026, 12 payments, last on 25 Oct
        2027"; "starting today" when the plan starts on ``today``."""
        starting = "today" if today is not None and self.start == today else _day(self.start)
        text = f"{amount} every {PERIOD_WORDS[self.frequency]}, starting {starting}"
        count = self.count
        if count is None:
            return text + ", until you cancel"
        if count == 1:
            return text + ", 1 payment"
        return text + f", {count} payments, last on {_day(self.last_due)}"


def _day(value: date | None) -> str:
    return "" if value is None else f"{value.day} {value:%b %Y}"
