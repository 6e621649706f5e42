"""Validated field types shared by every venue's state model (pydantic ``Annotated`` types).

Every amount and price in a state file is a JSON *string* (``"0.5"``), never a number, so that no
binary float ever touches money. Timestamps of the common format are integer epoch milliseconds.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints

__all__ = [
    "PERMISSIONS",
    "Amount",
    "AssetCode",
    "Decimalish",
    "EpochMs",
    "IpList",
    "NonEmpty",
    "Perm",
    "Price",
    "StrictText",
    "Symbol",
    "decimal_of",
    "ip_allowed",
]

PERMISSIONS = ("read_only", "trade", "withdraw")
"""The common permission vocabulary; each venue reports it in its own words."""


def _require_string(value: object) -> object:
    if isinstance(value, bool) or isinstance(value, int | float):
        raise ValueError('amounts must be JSON strings such as "0.5", not numbers')
    return value


def decimal_of(value: str) -> Decimal:
    """A finite Decimal from a state string, or ValueError naming the value."""
    try:
        result = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return result


def _any_decimal(value: str) -> str:
    decimal_of(value)
    return value.strip()


def _non_negative(value: str) -> str:
    if decimal_of(value) < 0:
        raise ValueError(f"{value!r} must not be negative")
    return value.strip()


def _positive(value: str) -> str:
    if decimal_of(value) <= 0:
        raise ValueError(f"{value!r} must be greater than zero")
    return value.strip()


def _epoch_ms(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("ts must be an integer of epoch milliseconds, e.g. 1700000000000")
    if not 0 <= value < 10**14:
        raise ValueError(f"{value} is not a time in epoch milliseconds")
    return value


def _perm(value: str) -> str:
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not parts:
        raise ValueError("perm must list at least one of read_only, trade, withdraw")
    for part in parts:
        if part not in PERMISSIONS:
            raise ValueError(f"unknown permission {part!r}; use read_only, trade, withdraw")
    return ",".join(parts)


def _ip_list(value: str) -> str:
    parts = [part.strip() for part in value.split(",") if part.strip()]
    for part in parts:
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or CIDR range") from None
    return ",".join(parts)


def ip_allowed(ip_list: str, peer: str | None) -> bool:
    """True when ``ip_list`` is empty or contains ``peer`` (addresses or CIDR ranges)."""
    entries = [part.strip() for part in ip_list.split(",") if part.strip()]
    if not entries:
        return True
    if peer is None:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in entries)


StrictText = Annotated[str, BeforeValidator(_require_string)]
"""Text that is a JSON string, never a number (so no float reaches an amount)."""
Decimalish = Annotated[StrictText, AfterValidator(_any_decimal)]
"""Any finite decimal as a string (fees may be negative)."""
Amount = Annotated[StrictText, AfterValidator(_non_negative)]
"""A non-negative decimal string: balances."""
Price = Annotated[StrictText, AfterValidator(_positive)]
"""A decimal string greater than zero: prices and trade sizes."""
EpochMs = Annotated[int, BeforeValidator(_epoch_ms)]
AssetCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9.]{0,19}$")]
"""A venue's own asset code: upper-case letters and digits, Kraken's ``.S``/``.F`` suffixes."""
Symbol = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,20}-[A-Z0-9]{1,20}$")]
"""A market in common codes, ``BASE-QUOTE``."""
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
Perm = Annotated[str, AfterValidator(_perm)]
IpList = Annotated[str, AfterValidator(_ip_list)]
