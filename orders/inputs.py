"""Parsing what shoppers type or post: digits and quantities. One home for each rule."""

from __future__ import annotations

from django.conf import settings

from orders.exceptions import InvalidQuantity


def ascii_digits(text: str) -> bool:
    """Only 0-9 (``str.isdigit`` also accepts e.g. superscripts, which ``int`` refuses)."""
    return text.isascii() and text.isdigit()


def quantity_parse(value: object, *, allow_zero: bool = False) -> int:
    """A quantity from form or JSON input. Raises ``InvalidQuantity`` (message for the shopper).

    Accepts ints and digit strings; refuses floats, booleans, negatives, zero (unless
    ``allow_zero``) and anything above ``settings.CART_MAX_QUANTITY``.
    """
    maximum = settings.CART_MAX_QUANTITY
    message = f"Please choose a quantity between {0 if allow_zero else 1} and {maximum}."
    if isinstance(value, bool) or value is None:
        raise InvalidQuantity(message)
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not text or len(text) > 6 or not ascii_digits(text.removeprefix("-")):
            raise InvalidQuantity(message)
        number = int(text)
    if number < (0 if allow_zero else 1) or number > maximum:
        raise InvalidQuantity(message)
    return number
