"""Template helpers of the shop: ``{{ amount|money:currency }}``, ``{{ product|price_words }}``,
``{{ product|plan_words }}``, ``{{ when|moment }}``, ``{% product_picture product 160 %}`` and
``{% provider_label %}`` (the payment provider's name)."""

from django import template
from django.core.files.storage import default_storage
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from orders.moments import format_moment
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


@register.simple_tag
def product_picture(product, width: int, alt: str = "", lazy: bool = False):
    """The product's ``<img>``, ``width`` CSS pixels wide: its uploaded photo's WebP sizes as a
    ``srcset`` (the browser picks one for the screen's density) with the width and height that
    keep its shape, else its illustration from ``static/``, else nothing."""
    loading = mark_safe(' loading="lazy"') if lazy else ""  # noqa: S308 - a constant
    variants = [v for v in (product.photo_variants or []) if v.get("name") and v.get("width")]
    if product.photo and variants:
        variants.sort(key=lambda v: v["width"])
        largest = variants[-1]
        fallback = next((v for v in variants if v["width"] >= width), variants[-1])
        srcset = ", ".join(f"{default_storage.url(v['name'])} {v['width']}w" for v in variants)
        shown = min(width, largest["width"])
        height = max(1, round(largest["height"] * shown / largest["width"]))
        return format_html(
            '<img src="{}" srcset="{}" sizes="{}px" width="{}" height="{}" alt="{}"{}>',
            default_storage.url(fallback["name"]),
            srcset,
            shown,
            shown,
            height,
            alt,
            loading,
        )
    if product.image:
        return format_html(
            '<img src="{}" width="{}" height="{}" alt="{}"{}>',
            static(product.image),
            width,
            width,
            alt,
            loading,
        )
    return ""


@register.filter
def moment(value):
    """``6 Dec 2026, 06:32 UTC``: the store's time zone, named (``orders.moments``)."""
    return format_moment(value)
