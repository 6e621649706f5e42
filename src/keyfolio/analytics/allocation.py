"""Allocation of a portfolio's value by asset, account, exchange, source or portfolio.

Definitions (docs/analytics.md, "Allocation"): each slice's ``value`` is the exact sum of
its positions' USD values; ``share`` is ``value / total`` rounded to 4 decimals (0.01 %) by
the largest-remainder method, so the shares add up to exactly 1 (ties for the last units go
to the larger slice, then to the key first in order). Unpriced positions are left out of the
slices and the total and listed in ``unpriced``. Slices are ordered by value, largest first,
then by key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from keyfolio.domain.money import divide, multiply, subtract, total

__all__ = ["SHARE_QUANTUM", "Allocation", "AllocationKey", "Position", "Slice", "allocate"]

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
#: Shares are fractions of 1 with four decimals (0.0001 = 0.01 %).
SHARE_QUANTUM = Decimal("0.0001")
_UNITS = 10_000
_SCALE = Decimal(_UNITS)
_ONE = Decimal(1)


class AllocationKey(StrEnum):
    """What the value is split by."""

    ASSET = "asset"
    ACCOUNT = "account"
    EXCHANGE = "exchange"
    SOURCE = "source"
    PORTFOLIO = "portfolio"


@dataclass(frozen=True)
class Position:
    """An amount of one asset in one source of one account, with its USD value (or None)."""

    asset: str
    amount: Decimal
    value: Decimal | None
    account: str = ""
    exchange: str = ""
    source: str = ""
    portfolio: str = "main"

    def key(self, by: AllocationKey) -> str:
        return str(getattr(self, by.value))


@dataclass(frozen=True)
class Slice:
    """One part of the split: its key, USD value and share of the priced total."""

    key: str
    value: Decimal
    share: Decimal


@dataclass(frozen=True)
class Allocation:
    """The split by ``by``; ``unpriced`` lists the assets left out (no price)."""

    by: AllocationKey
    total: Decimal
    slices: list[Slice]
    unpriced: list[str] = field(default_factory=list)


def allocate(positions: Iterable[Position], *, by: AllocationKey | str) -> Allocation:
    """Split the priced value of ``positions`` by ``by`` (see the module docstring)."""
    key = AllocationKey(by)
    parts: dict[str, list[Decimal]] = {}
    unpriced: set[str] = set()
    for position in positions:
        if position.value is None:
            if position.amount != ZERO:
                unpriced.add(position.asset)
            continue
        parts.setdefault(position.key(key), []).append(position.value)
    sums = {name: total(values) for name, values in parts.items()}
    whole = total(sums.values())
    ordered = sorted(sums.items(), key=lambda item: (item[1].copy_negate(), item[0]))
    shares = _shares([value for _name, value in ordered], whole)
    slices = [
        Slice(name, value, share) for (name, value), share in zip(ordered, shares, strict=True)
    ]
    return Allocation(key, whole, slices, sorted(unpriced))


def _shares(values: list[Decimal], total: Decimal) -> list[Decimal]:
    """Largest-remainder shares in units of 0.0001 that sum to exactly 1 (all zero when the
    total is not positive)."""
    if total <= ZERO:
        return [ZERO for _ in values]
    scaled = [multiply(value, _SCALE) for value in values]  # value x 10,000, exact
    floors = [int(divide(part, total, quantum=_ONE, rounding=ROUND_FLOOR)) for part in scaled]
    left = _UNITS - sum(floors)
    # The remainders (value x 10,000 - floor x total) / total share one denominator, so they
    # compare exactly without dividing. Values are in descending order, so a stable sort by
    # remainder keeps larger slices first.
    remainders = [subtract(part, multiply(Decimal(units), total)) for part, units in zip(
        scaled, floors, strict=True)]  # fmt: skip
    order = sorted(range(len(values)), key=lambda i: remainders[i].copy_negate())
    for index in order[: max(left, 0)]:
        floors[index] += 1
    return [Decimal(units) * SHARE_QUANTUM for units in floors]
