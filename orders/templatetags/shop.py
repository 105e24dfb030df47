"""Template helpers of the shop: ``{{ amount|money:currency }}``, ``{{ product|price_words }}``,
``{{ product|plan_words }}`` and ``{% provider_label %}`` (the payment provider's name)."""

from django import template

from orders.money import format_money
from orders.payments import provider_label as payment_provider_label
from orders.plans import product_plan_words
from orders.recurring import PERIOD_WORDS

register = template.Library()


@register.simple_tag
def provider_label() -> str:
    """The store's payment provider as shoppers know it (``orders.payments``)."""
    return payment_provider_label()


@register.filter
def money(amount, currency="USD"):
    if amount is None or amount == "":
        return ""
    try:
        return format_money(amount, currency or "USD")
    except (TypeError, ValueError):
        return ""


@register.filter
def price_words(product):
    """``$19.90``, or ``$9.90 every month`` for a recurring plan."""
    price = money(product.price, product.currency)
    if not product.is_recurring:
        return price
    return f"{price} every {PERIOD_WORDS.get(product.frequency, product.frequency)}"


@register.filter
def plan_words(product):
    """The plan of a recurring product bought today, in words; empty for a one-time product."""
    return product_plan_words(product)
