"""The admin index's sales chart: paid orders and net revenue per day for the last 30 days, per
currency, checked against the database; drawn as inline SVG with its table beside it."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from orders.admin_charts import sales_chart
from orders.admin_sales import SalesDay, SalesSeries, sales_per_day
from orders.models import Installment, Order, Refund
from orders.services.refunds import order_refund_record
from tests.factories import order_create, recurring_order_create

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=ZoneInfo("UTC"))


def expected_from_database(
    *, now: datetime
) -> dict[tuple[str, date], tuple[int, Decimal, Decimal]]:
    """``{(currency, local day): (paid orders, received, refunded)}`` over the last 30 days,
    computed row by row in Python from what the database holds."""
    last = timezone.localdate(now)
    first = last - timedelta(days=29)
    found: dict[tuple[str, date], list] = defaultdict(lambda: [0, Decimal("0.00"), Decimal("0.00")])
    for order in Order.objects.exclude(paid_at=None):
        day = timezone.localdate(order.paid_at)
        if first <= day <= last:
            found[order.currency, day][0] += 1
            found[order.currency, day][1] += order.total
    for row in Installment.objects.filter(status=Installment.Status.PAID, number__gte=1):
        day = timezone.localdate(row.occurred_at or row.recorded_at)
        if first <= day <= last:
            found[row.currency, day][1] += row.amount
    for refund in Refund.objects.all():
        day = timezone.localdate(refund.created_at)
        if first <= day <= last:
            found[refund.currency, day][2] += refund.amount
    return {key: tuple(values) for key, values in found.items()}


def paid(total: str, at: datetime, currency: str = "USD") -> Order:
    return order_create(status=Order.Status.PAID, total=total, paid_at=at, currency=currency)


def shop_history() -> None:
    """Paid orders over 40 days in two currencies, unpaid ones, and a plan's installments."""
    for n in range(40):
        at = NOW - timedelta(days=n, hours=n % 5)
        paid(f"{10 + n}.{n % 100:02d}", at)
        if n % 3 == 0:
            paid("7.35", at, currency="EUR")
            paid("0.10", at, currency="EUR")
    order_create(status=Order.Status.PENDING, total="99.00")
    order_create(status=Order.Status.EXPIRED, total="55.00")
    # Refunds count on the day they were recorded: one today, one 35 days ago (outside the
    # window), one in euros 3 days ago.
    refunded = Order.objects.filter(currency="USD", paid_at__isnull=False).order_by("pk")[5]
    today = order_refund_record(order=refunded, amount="3.50", reason="scratched", actor="merchant")
    Refund.objects.filter(pk=today.pk).update(created_at=NOW - timedelta(hours=1))
    old = order_refund_record(order=refunded, amount="1.00", reason="late", actor="merchant")
    Refund.objects.filter(pk=old.pk).update(created_at=NOW - timedelta(days=35))
    euros = Order.objects.filter(currency="EUR").order_by("pk").first()
    in_euros = order_refund_record(order=euros, amount="7.35", reason="returned", actor="merchant")
    Refund.objects.filter(pk=in_euros.pk).update(created_at=NOW - timedelta(days=3))
    plan = recurring_order_create()
    for number, days_ago in ((1, 2), (2, 31)):
        Installment.objects.create(
            subscription=plan.subscription,
            number=number,
            status=Installment.Status.PAID,
            amount=Decimal("9.90"),
            transaction_id=f"tx-{number}",
            occurred_at=NOW - timedelta(days=days_ago),
        )
    Installment.objects.create(
        subscription=plan.subscription,
        number=3,
        status=Installment.Status.FAILED,
        amount=Decimal("9.90"),
        transaction_id="tx-failed",
        occurred_at=NOW,
    )


def test_the_chart_numbers_match_the_database_per_day_and_currency():
    shop_history()

    series = sales_per_day(now=NOW)

    expected = expected_from_database(now=NOW)
    assert [s.currency for s in series] == ["EUR", "USD"]
    seen = {}
    for s in series:
        assert len(s.days) == 30
        assert s.days[-1].day == date(2026, 12, 6)
        for day in s.days:
            if day.orders or day.received or day.refunded:
                seen[s.currency, day.day] = (day.orders, day.received, day.refunded)
            assert day.net == day.received - day.refunded
    assert seen == expected
    usd = series[1]
    assert usd.orders == 30
    assert usd.days[-3].received == Decimal("12.02") + Decimal("9.90")  # an order and a charge
    eur = series[0]
    assert eur.days[-4].refunded == Decimal("7.35")


def test_days_are_the_store_time_zone_days(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    with timezone.override("Europe/Berlin"):
        late = datetime(2026, 12, 4, 23, 30, tzinfo=ZoneInfo("UTC"))  # 5 Dec, 00:30 in Berlin
        paid("5.00", late)

        [usd] = sales_per_day(now=NOW)

    by_day = {day.day: day for day in usd.days}
    assert by_day[date(2026, 12, 5)].orders == 1
    assert by_day[date(2026, 12, 4)].orders == 0


def test_days_across_a_daylight_saving_change_stay_whole_local_days(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    with timezone.override("Europe/Berlin"):
        paid("1.00", datetime(2026, 10, 25, 0, 10, tzinfo=berlin))  # still summer time
        paid("2.00", datetime(2026, 10, 25, 23, 50, tzinfo=berlin))  # a 25-hour day
        paid("4.00", datetime(2026, 10, 26, 0, 5, tzinfo=berlin))

        [usd] = sales_per_day(now=datetime(2026, 11, 10, 12, 0, tzinfo=berlin))

    by_day = {day.day: day.received for day in usd.days}
    assert by_day[date(2026, 10, 25)] == Decimal("3.00")
    assert by_day[date(2026, 10, 26)] == Decimal("4.00")


def test_the_chart_costs_the_same_queries_whatever_the_orders(django_assert_max_num_queries):
    shop_history()

    with django_assert_max_num_queries(1):
        sales_per_day(now=NOW)


def test_a_day_whose_refunds_pass_the_money_received_draws_below_the_line():
    days = [SalesDay(date(2026, 11, 7) + timedelta(days=n), 1, Decimal("10.00")) for n in range(30)]
    days[4] = SalesDay(days[4].day, 0, Decimal("0.00"), Decimal("25.00"))

    chart = sales_chart(SalesSeries("USD", days))

    bar = chart.money_bars[4]
    assert bar.negative
    assert bar.y == chart.zero_y
    assert "-$25.00 net" in bar.title
    tallest = chart.money_bars[0]
    assert tallest.y + tallest.height == pytest.approx(chart.zero_y, abs=0.1)


def _table_rows(html: str, currency: str) -> dict[str, list[str]]:
    start = html.index(f'data-currency="{currency}"')
    table = html[html.index("<tbody>", start) : html.index("</tbody>", start)]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        day = re.search(r'datetime="([\d-]+)"', row).group(1)
        rows[day] = re.findall(r"<td>(.*?)</td>", row)
    return rows


def test_the_admin_index_shows_the_chart_and_its_table(admin_client):
    now = timezone.now()
    mug = paid("12.00", now)
    paid("3.50", now)
    paid("4.00", now - timedelta(days=1), currency="EUR")
    order_refund_record(order=mug, amount="2.00", reason="chipped", actor="merchant")

    response = admin_client.get("/admin/")

    html = response.content.decode()
    chart = html[html.index('id="sales-chart"') :]
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in chart
    today = timezone.localdate(now)
    usd = _table_rows(html, "USD")
    assert len(usd) == 30
    assert usd[today.isoformat()] == ["2", "$15.50", "$2.00", "$13.50"]
    eur = _table_rows(html, "EUR")
    assert eur[(today - timedelta(days=1)).isoformat()] == ["1", "4.00 EUR", "0.00 EUR", "4.00 EUR"]
    assert "2 paid orders in the last 30 days, $15.50 received, $2.00 refunded, $13.50 net" in chart


def test_the_chart_loads_nothing_from_elsewhere(admin_client):
    paid("12.00", timezone.now())

    html = admin_client.get("/admin/").content.decode()

    start = html.index('id="sales-chart"')
    chart = html[start : html.index("</table>", start)]
    assert "<script" not in chart
    assert not re.search(r'(src|href)="(https?:)?//', chart)


def test_without_sales_the_index_says_so(admin_client):
    assert "No paid orders in the last 30 days." in admin_client.get("/admin/").content.decode()


def test_staff_who_may_not_view_orders_get_no_chart(client, django_user_model):
    staff = django_user_model.objects.create_user("clerk", "c@example.com", "pw", is_staff=True)
    client.force_login(staff)
    paid("12.00", timezone.now())

    html = client.get("/admin/").content.decode()

    assert 'id="sales-chart"' not in html
