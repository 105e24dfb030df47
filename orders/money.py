"""Decimal money helpers: amounts come from strings, are quantized to cents with ROUND_HALF_UP."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def quantize_money(value: Decimal | int | str) -> Decimal:
    """Round to cents. Floats are refused: they carry binary drift into money."""
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a Decimal or a string")
    try:
        return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def format_money(amount: Decimal, currency: str = "USD") -> str:
    symbol = {"USD": "$"}.get(currency)
    text = f"{quantize_money(amount):,.2f}"
    return f"{symbol}{text}" if symbol else f"{text} {currency}"
