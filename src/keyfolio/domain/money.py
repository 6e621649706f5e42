"""Exact decimal money: parsing exchange strings and formatting for screens.

A float never touches an amount or a price. Parsing refuses floats outright.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext

__all__ = ["ZERO", "format_amount", "format_usd", "multiply", "normalize", "parse_decimal"]

ZERO = Decimal(0)


def parse_decimal(value: str | int | Decimal, *, field: str = "amount") -> Decimal:
    """Parse an exchange string (or int/Decimal) into a finite Decimal.

    Empty strings, which OKX sends for "no value", parse as zero.
    Floats are refused so that binary rounding never sneaks in.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"{field}: refusing to parse {type(value).__name__} as money")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    else:
        text = value.strip()
        if text == "":
            return ZERO
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{field}: {value!r} is not a decimal number") from None
    if not result.is_finite():
        raise ValueError(f"{field}: {value!r} is not a finite number")
    return result


def multiply(a: Decimal, b: Decimal) -> Decimal:
    """The exact product: the precision is raised to fit every digit of both factors."""
    with localcontext() as ctx:
        ctx.prec = max(28, len(a.as_tuple().digits) + len(b.as_tuple().digits))
        return a * b


def normalize(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation."""
    if value == ZERO:
        return ZERO
    normalized = value.normalize()
    sign, digits, exponent = normalized.as_tuple()
    if isinstance(exponent, int) and exponent > 0:
        return normalized.quantize(Decimal(1))
    return normalized


def format_amount(value: Decimal) -> str:
    """A plain string with no exponent and no trailing zeros: ``0.5``, ``1000``."""
    return f"{normalize(value):f}"


def format_usd(value: Decimal) -> str:
    """Two decimals with thousands separators: ``30,000.00``."""
    return f"{value.quantize(Decimal('0.01')):,.2f}"
