"""The admin index's sales chart, drawn on the server as inline SVG: no script, no CDN, nothing
for the Content-Security-Policy to allow.

Per currency, two panels share the days: net revenue per day (bars below the line on a day whose
refunds passed what came in) and paid orders per day. Each bar carries a ``<title>`` (the
browser's tooltip); the table beside the chart (templates/admin/orders/sales_chart.html) holds
the same figures for screen readers and for reading them exactly. Only the pixel geometry is
float; the figures shown are the selector's Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.formats import date_format

from orders.admin_sales import SalesDay, SalesSeries
from orders.money import format_money

WIDTH = 480
LEFT = 84  # room for the amounts on the axis
RIGHT = 22  # room for the last date, centred under the last bar
MONEY_TOP, MONEY_HEIGHT = 16, 120
ORDERS_TOP, ORDERS_HEIGHT = 160, 48
LABELS_Y = ORDERS_TOP + ORDERS_HEIGHT + 18
HEIGHT = LABELS_Y + 8
LABEL_EVERY = 7  # a day's date under every 7th bar, counted back from today


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str
    negative: bool = False


@dataclass(frozen=True)
class AxisLabel:
    x: float
    y: float
    text: str
    anchor: str = "end"  # right-aligned beside the axis; "middle" under a bar


@dataclass(frozen=True)
class SalesChart:
    series: SalesSeries
    money_bars: list[Bar]
    order_bars: list[Bar]
    labels: list[AxisLabel]
    zero_y: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_x: int = WIDTH - RIGHT
    orders_top: int = ORDERS_TOP
    orders_base: int = ORDERS_TOP + ORDERS_HEIGHT

    @property
    def summary(self) -> str:
        """The chart in one sentence (its SVG description)."""
        s = self.series
        money = (signed_money(v, s.currency) for v in (s.received, s.refunded, s.net))
        received, refunded, net = money
        return (
            f"{s.orders} paid orders in the last {len(s.days)} days, {received} received, "
            f"{refunded} refunded, {net} net."
        )

    @property
    def days_newest_first(self) -> list[SalesDay]:
        return list(reversed(self.series.days))


def signed_money(amount: Decimal, currency: str) -> str:
    """``$12.00``, ``-$12.00``."""
    if amount < 0:
        return "-" + format_money(-amount, currency)
    return format_money(amount, currency)


def _day_words(day: SalesDay, currency: str) -> str:
    return (
        f"{date_format(day.day, 'j M')}: {day.orders} paid orders, "
        f"{signed_money(day.net, currency)} net"
    )


def _money_scale(days: list[SalesDay]) -> tuple[Decimal, Decimal]:
    high = max([Decimal(0), *(d.net for d in days)])
    low = min([Decimal(0), *(d.net for d in days)])
    return high, low


def sales_chart(series: SalesSeries) -> SalesChart:
    """The geometry of one currency's chart."""
    days = series.days
    slot = (WIDTH - LEFT - RIGHT) / len(days)
    bar_width = round(slot * 0.7, 1)
    high, low = _money_scale(days)
    span = (high - low) or Decimal(1)
    zero_y = MONEY_TOP + float(high / span) * MONEY_HEIGHT
    most_orders = max([1, *(d.orders for d in days)])
    money_bars, order_bars, labels = [], [], []
    for n, day in enumerate(days):
        x = round(LEFT + n * slot + (slot - bar_width) / 2, 1)
        title = _day_words(day, series.currency)
        size = float(abs(day.net) / span) * MONEY_HEIGHT
        top = zero_y - size if day.net >= 0 else zero_y
        money_bars.append(
            Bar(x, round(top, 1), bar_width, round(size, 1), title, negative=day.net < 0)
        )
        size = day.orders / most_orders * ORDERS_HEIGHT
        order_bars.append(
            Bar(x, round(ORDERS_TOP + ORDERS_HEIGHT - size, 1), bar_width, round(size, 1), title)
        )
        if (len(days) - 1 - n) % LABEL_EVERY == 0:
            middle = round(x + bar_width / 2, 1)
            labels.append(AxisLabel(middle, LABELS_Y, date_format(day.day, "j M"), "middle"))
    if high > 0:
        labels.append(AxisLabel(LEFT - 6, MONEY_TOP + 4, format_money(high, series.currency)))
    labels += [
        AxisLabel(LEFT - 6, round(zero_y + 4, 1), format_money(Decimal(0), series.currency)),
        AxisLabel(LEFT - 6, ORDERS_TOP + 4, f"{most_orders} orders"),
        AxisLabel(LEFT - 6, ORDERS_TOP + ORDERS_HEIGHT, "0"),
    ]
    if low < 0:
        labels.append(
            AxisLabel(LEFT - 6, MONEY_TOP + MONEY_HEIGHT, signed_money(low, series.currency))
        )
    return SalesChart(series, money_bars, order_bars, labels, round(zero_y, 1))
