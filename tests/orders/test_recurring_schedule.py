"""Schedule arithmetic of recurring plans: month ends, leap years, Feb 29, weeks across a time
change, the end of a plan."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from orders.recurring import Plan, due_date


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),  # Jan 31 + 1 month: the month's last day
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # ... in a leap year
        (date(2027, 1, 31), 2, date(2027, 3, 31)),  # computed from the start, not chained
        (date(2027, 1, 31), 3, date(2027, 4, 30)),
        (date(2027, 8, 31), 6, date(2028, 2, 29)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),  # over the year's end
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
    ],
)
def test_monthly_due_dates_clamp_to_the_months_last_day(start, n, expected):
    assert due_date(start=start, frequency="monthly", n=n) == expected


def test_yearly_on_february_29_falls_on_february_28_in_other_years():
    start = date(2028, 2, 29)
    assert [due_date(start=start, frequency="yearly", n=n) for n in range(5)] == [
        date(2028, 2, 29),
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
    ]


def test_weekly_across_a_time_change_keeps_the_weekday():
    # Europe/Berlin leaves summer time on 25 Oct 2026: a week that night is 169 hours long.
    start = date(2026, 10, 20)
    dates = [due_date(start=start, frequency="weekly", n=n) for n in range(4)]
    assert dates == [date(2026, 10, 20), date(2026, 10, 27), date(2026, 11, 3), date(2026, 11, 10)]
    berlin = ZoneInfo("Europe/Berlin")
    at_nine = [datetime(d.year, d.month, d.day, 9, tzinfo=berlin) for d in dates]
    assert {t.hour for t in at_nine} == {9}  # every installment at the same local time
    in_utc = [t.astimezone(UTC) for t in at_nine]
    assert in_utc[1] - in_utc[0] == timedelta(days=7, hours=1)  # the clock went back


def test_a_plan_ends_after_its_periods():
    plan = Plan(frequency="monthly", start=date(2026, 11, 25), periods=12)
    assert plan.count == 12
    assert plan.due(11) == date(2027, 10, 25)
    assert plan.due(12) is None
    assert plan.last_due == date(2027, 10, 25)
    assert plan.describe("$9.90") == (
        "$9.90 every month, starting 25 Nov 2026, 12 payments, last on 25 Oct 2027"
    )


def test_a_plan_ends_on_its_end_date_with_no_installment_after_it():
    plan = Plan(frequency="monthly", start=date(2027, 1, 31), end=date(2027, 4, 29))
    assert [plan.due(n) for n in range(5)] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        None,  # Apr 30 is after the end date
        None,
    ]
    assert plan.count == 3
    assert plan.last_due == date(2027, 3, 31)


def test_a_plan_without_an_end_runs_until_cancelled():
    plan = Plan(frequency="weekly", start=date(2026, 11, 25))
    assert plan.count is None
    assert plan.due(520) == date(2026, 11, 25) + timedelta(weeks=520)
    assert plan.describe("$5.00").endswith("until you cancel")


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ({"frequency": "once", "start": date(2026, 1, 1)}, "not a recurring frequency"),
        ({"frequency": "daily", "start": date(2026, 1, 1)}, "not a recurring frequency"),
        ({"frequency": "monthly", "start": date(2026, 1, 1), "periods": 0}, "at least one"),
        (
            {"frequency": "monthly", "start": date(2026, 2, 1), "end": date(2026, 1, 1)},
            "end before it starts",
        ),
    ],
)
def test_impossible_plans_are_refused(bad, why):
    with pytest.raises(ValueError, match=why):
        Plan(**bad)
