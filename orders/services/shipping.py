"""Shipping at checkout: the address's one validation, and the shipping methods a cart can use.

``shipping_address_clean`` is the one rule for an address: the checkout form shows its messages
next to the right field, and ``order_create_from_cart`` applies it again before it stores the
snapshot. ``shipping_method_choose`` checks the method against the country, and
``ShippingMethod.price_for`` prices it against the goods.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db.models import QuerySet
from django_countries import countries

from orders.exceptions import CheckoutError
from orders.inputs import ascii_digits
from orders.models import ShippingMethod
from orders.money import format_money

# (field, label, maximum length, required); the lengths are the model's columns.
ADDRESS_FIELDS: tuple[tuple[str, str, int, bool], ...] = (
    ("shipping_name", "the name on the parcel", 200, True),
    ("shipping_line1", "the address", 200, True),
    ("shipping_line2", "the second address line", 200, False),
    ("shipping_city", "the city", 100, True),
    ("shipping_postal_code", "the postal code", 20, True),
    ("shipping_region", "the region", 100, False),
)
PHONE_MAX = 32
PHONE_CHARACTERS = set("0123456789 +-().")
# Invisible characters that reorder text (they can make an address read differently on a label).
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class ShippingAddress:
    """A cleaned address, ready to be snapshotted on the order (``asdict`` gives its columns)."""

    shipping_name: str
    shipping_line1: str
    shipping_line2: str
    shipping_city: str
    shipping_postal_code: str
    shipping_region: str
    shipping_country: str
    shipping_phone: str

    def as_fields(self) -> dict[str, str]:
        return asdict(self)


def _has_control(text: str) -> bool:
    """NUL, line breaks, tabs and other control or invisible reordering characters."""
    return any(
        unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") or ch in BIDI_CONTROLS for ch in text
    )


def address_text_clean(
    value: object, *, field: str, label: str, maximum: int, required: bool
) -> str:
    """One line of an address, spaces tidied; ``CheckoutError`` (``field``) when it is missing,
    too long or holds a control character."""
    text = "" if value is None else str(value)
    if _has_control(text):
        raise CheckoutError(
            f"Please enter {label} without control characters (such as line breaks or tabs).",
            field=field,
        )
    text = " ".join(text.split())
    if required and not text:
        raise CheckoutError(f"Please enter {label}.", field=field)
    if len(text) > maximum:
        raise CheckoutError(f"Please enter {label} in at most {maximum} characters.", field=field)
    return text


def shipping_country_clean(value: object) -> str:
    """An ISO 3166-1 alpha-2 code django-countries knows; ``CheckoutError`` otherwise."""
    code = str(value or "").strip().upper()
    if not code:
        raise CheckoutError("Please choose the country.", field="shipping_country")
    if len(code) != 2 or code not in countries:
        raise CheckoutError("Please choose a country from the list.", field="shipping_country")
    return code


def shipping_phone_clean(value: object) -> str:
    """An optional phone number for the carrier: digits, spaces and ``+-().``."""
    text = address_text_clean(
        value, field="shipping_phone", label="the phone number", maximum=PHONE_MAX, required=False
    )
    digits = sum(ch.isdigit() for ch in text)
    if text and (not set(text) <= PHONE_CHARACTERS or digits < 4):
        raise CheckoutError(
            "Please enter a phone number with digits only (spaces and + - ( ) . allowed), or "
            "leave it empty.",
            field="shipping_phone",
        )
    return text


def _address_rules() -> list[tuple[str, Callable[[object], str]]]:
    rules: list[tuple[str, Callable[[object], str]]] = [
        (name, partial(address_text_clean, field=name, label=label, maximum=most, required=needed))
        for name, label, most, needed in ADDRESS_FIELDS
    ]
    return [
        *rules,
        ("shipping_country", shipping_country_clean),
        ("shipping_phone", shipping_phone_clean),
    ]


def shipping_address_check(data: Mapping[str, object]) -> tuple[dict[str, str], dict[str, str]]:
    """``(cleaned fields, problems)`` of the address in ``data``: every field is checked, and
    ``problems`` holds a message for each one at fault (the checkout form shows them all)."""
    cleaned: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name, rule in _address_rules():
        try:
            cleaned[name] = rule(data.get(name))
        except CheckoutError as exc:
            problems[name] = str(exc)
    return cleaned, problems


def shipping_address_clean(data: Mapping[str, object]) -> ShippingAddress:
    """The address from ``data`` (form fields or a JSON object), cleaned. Raises ``CheckoutError``
    naming the first field at fault; nothing is stored by this function."""
    cleaned, problems = shipping_address_check(data)
    if problems:
        field, message = next(iter(problems.items()))
        raise CheckoutError(message, field=field)
    return ShippingAddress(**cleaned)


def shipping_methods_available(*, currency: str | None = None) -> QuerySet[ShippingMethod]:
    """The methods checkout offers: active, in the store's currency, by position then price."""
    return ShippingMethod.objects.filter(
        is_active=True, currency=currency or settings.STORE_CURRENCY
    ).order_by("position", "price", "pk")


def shipping_method_reference(value: object) -> int | None:
    """The method's id from a form or JSON value, or None when it is not one."""
    text = str(value if value is not None else "").strip()
    if not text or len(text) > 12 or not ascii_digits(text):
        return None
    return int(text)


def shipping_method_choose(*, method: object, country: str, currency: str) -> ShippingMethod:
    """The active method ``method`` (an instance or its id, read afresh) for an address in
    ``country``. Raises ``CheckoutError`` (field ``shipping_method``) when there is no such
    method or it does not deliver there."""
    pk = method.pk if isinstance(method, ShippingMethod) else shipping_method_reference(method)
    if pk is None:
        raise CheckoutError("Please choose a shipping method.", field="shipping_method")
    found = shipping_methods_available(currency=currency).filter(pk=pk).first()
    if found is None:
        raise CheckoutError(
            "That shipping method is not available: please choose another.",
            field="shipping_method",
        )
    if not found.delivers_to(country):
        raise CheckoutError(
            f"{found.name} does not deliver to {countries.name(country)}: please choose another "
            "shipping method or address.",
            field="shipping_method",
        )
    return found


def shipping_price_words(method: ShippingMethod) -> str:
    """ "$4.90, free from $50.00": the method's terms, for checkout's list."""
    text = "free" if method.price == Decimal("0") else format_money(method.price, method.currency)
    if method.free_over is not None and method.price > Decimal("0"):
        text += f", free from {format_money(method.free_over, method.currency)}"
    return text
