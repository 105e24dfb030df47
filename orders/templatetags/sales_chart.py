"""``{% sales_chart %}``: the admin index's chart of paid orders and net revenue per day over
the last 30 days, per currency (``orders.admin_sales``, drawn by ``orders.admin_charts``)."""

from __future__ import annotations

from django import template

from orders.admin_charts import sales_chart as chart_of
from orders.admin_charts import signed_money
from orders.admin_sales import SALES_DAYS, sales_per_day

register = template.Library()


@register.inclusion_tag("admin/orders/sales_chart.html", takes_context=True)
def sales_chart(context) -> dict:
    """Nothing for a user who may not view orders."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("orders.view_order"):
        return {"allowed": False}
    return {
        "allowed": True,
        "days": SALES_DAYS,
        "charts": [chart_of(series) for series in sales_per_day(days=SALES_DAYS)],
    }


@register.filter
def money_signed(amount, currency: str) -> str:
    """``$12.00``, ``-$12.00`` (a day whose refunds passed what came in)."""
    return signed_money(amount, currency)
