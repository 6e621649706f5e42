"""Value change over a window, from the value series, with the 24h ``open24h`` fallback.

Definitions (docs/analytics.md, "Value change"):

- ``start`` is ``now - window`` (for ``all``, the first point of the value series).
- The start value is the value of the series' last point at or before ``start``
  (carry-forward). When there is one, the basis is ``history`` (the JSON name).
- Otherwise, for ``24h`` only, the start value is the holdings valued at each asset's
  ticker ``open24h`` price (``open24h_value``); the basis is ``open24h``, or ``open_utc`` when
  some of those opens are today's at 00:00 UTC (Kraken's ticker) rather than 24 hours ago.
- Otherwise the basis is ``none`` and the change and percentage are ``None``.
- ``value = now_value - start_value``; ``pct = value / start_value x 100`` rounded half-even to
  0.01, ``None`` when the start value is zero.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Protocol

from keyfolio.analytics.windows import WINDOWS, parse_window
from keyfolio.domain.money import multiply, prorate, round_to, subtract, total

__all__ = [
    "PCT_QUANTUM",
    "Change",
    "ChangeBasis",
    "TimedValue",
    "change_between",
    "changes_for",
    "open24h_value",
    "percent",
    "value_change",
]

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
HUNDRED = Decimal(100)
#: Percentages are rounded half-even to two decimals.
PCT_QUANTUM = Decimal("0.01")


class ChangeBasis(StrEnum):
    """Where a change's start value came from."""

    HISTORY = "history"
    OPEN24H = "open24h"
    OPEN_UTC = "open_utc"
    """Ticker opens, at least one of them today's at 00:00 UTC (Kraken's), not 24 h ago."""
    NONE = "none"


class TimedValue(Protocol):
    """A value series point: anything with ``at`` and ``value`` (e.g. ``SeriesPoint``)."""

    @property
    def at(self) -> datetime: ...

    @property
    def value(self) -> Decimal: ...


@dataclass(frozen=True)
class Change:
    """The change of a value over ``window``: absolute (USD) and percent, and its basis."""

    window: str
    value: Decimal | None
    pct: Decimal | None
    basis: ChangeBasis
    start_value: Decimal | None = None
    now_value: Decimal | None = None


def percent(change: Decimal, start: Decimal) -> Decimal | None:
    """``change / start x 100`` rounded once, half-even, to 0.01; ``None`` when ``start`` is
    zero."""
    if start == ZERO:
        return None
    pct = prorate(change, HUNDRED, start, quantum=PCT_QUANTUM, rounding=ROUND_HALF_EVEN)
    return round_to(pct, PCT_QUANTUM)  # exact: only pads "10" to "10.00"


def _value_at(points: Sequence[TimedValue], moment: datetime) -> Decimal | None:
    """The value of the last point at or before ``moment`` (points sorted by time)."""
    found: Decimal | None = None
    for point in points:
        if point.at > moment:
            break
        found = point.value
    return found


def value_change(
    points: Sequence[TimedValue],
    *,
    now_value: Decimal,
    window: str,
    now: datetime,
    open24h: Decimal | None = None,
) -> Change:
    """The change of the value over ``window`` ending at ``now`` (see the module docstring).

    ``points`` is the value series in time order (it may start before the window);
    ``open24h`` is the current holdings valued at ``open24h`` prices, or ``None``.
    """
    key = parse_window(window)
    length = WINDOWS[key]
    start_value: Decimal | None
    if length is None:
        start_value = points[0].value if points else None
    else:
        start_value = _value_at(points, now - length)
    return change_between(key, now_value=now_value, start_value=start_value, open24h=open24h)


def change_between(
    window: str,
    *,
    now_value: Decimal,
    start_value: Decimal | None,
    open24h: Decimal | None = None,
    open_basis: ChangeBasis = ChangeBasis.OPEN24H,
) -> Change:
    """The change from ``start_value`` (the series' carried value at the window's start, or
    ``None`` when the series does not reach back that far) to ``now_value``. ``open_basis``
    names what ``open24h`` is made of (``OPEN_UTC`` when some opens are today's at 00:00 UTC)."""
    key = parse_window(window)
    basis = ChangeBasis.HISTORY
    if start_value is None and key == "24h" and open24h is not None:
        start_value, basis = open24h, open_basis
    if start_value is None:
        return Change(key, None, None, ChangeBasis.NONE, None, now_value)
    change = subtract(now_value, start_value)
    return Change(key, change, percent(change, start_value), basis, start_value, now_value)


def open24h_value(
    amounts: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    open24h: Mapping[str, Decimal | None],
) -> Decimal | None:
    """Today's amounts at 24h-ago prices: ``sum(amount x open24h)`` over the priced assets.

    ``None`` when a priced asset with a non-zero amount has no ``open24h`` price (the
    fallback would then be partial, so it is not used). Unpriced assets count in neither
    the current value nor this one.
    """
    values = []
    for asset, amount in amounts.items():
        if asset not in prices or amount == ZERO:
            continue
        opening = open24h.get(asset)
        if opening is None:
            return None
        values.append(multiply(amount, opening))
    return total(values)


def changes_for(
    points: Sequence[TimedValue],
    *,
    now_value: Decimal,
    now: datetime,
    open24h: Decimal | None,
    windows: Iterable[str] = WINDOWS,
) -> dict[str, Change]:
    """:func:`value_change` for every window, keyed by window."""
    return {
        key: value_change(points, now_value=now_value, window=key, now=now, open24h=open24h)
        for key in windows
    }
