"""Template helpers of the shop: ``{{ amount|money:currency }}``."""

from django import template

from orders.money import format_money

register = template.Library()


@register.filter
def money(amount, currency="USD"):
    if amount is None or amount == "":
        return ""
    try:
        return format_money(amount, currency or "USD")
    except (TypeError, ValueError):
        return ""
