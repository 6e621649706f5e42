"""Top gainers and losers: by price change over a window, and by position P/L.

Definitions (docs/analytics.md, "Top gainers and losers"):

- Candidates are held assets whose current value (``amount x price``) is at least
  ``threshold`` USD (default 1). Cash is never a candidate.
- **By price change.** ``change_pct = (price_now - price_then) / price_then x 100``, where
  ``price_then`` is the asset's last snapshot price at or before the window's start; for
  ``24h`` without one, the ticker's ``open24h`` (basis ``open24h``, or ``open_utc`` for a
  Kraken open at 00:00 UTC). Assets with neither are left out.
  Gainers are the assets with ``change_pct > 0``, largest first; losers those with
  ``change_pct < 0``, most negative first. Ranked on the exact ratio; ties by asset name.
- **By position P/L.** ``pnl = unrealized`` of the asset's P/L report row (value of the
  known-basis amount minus its cost basis). Gainers ``pnl > 0`` largest first, losers
  ``pnl < 0`` most negative first; ties by asset name. Rows without a price are left out.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from keyfolio.analytics.changes import ChangeBasis, percent
from keyfolio.analytics.pnl import CASH_ASSETS, PnlReport
from keyfolio.analytics.windows import parse_window
from keyfolio.domain.money import multiply, subtract

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_THRESHOLD",
    "HeldAsset",
    "Mover",
    "PnlMover",
    "pnl_movers",
    "top_movers",
]

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
DEFAULT_THRESHOLD = Decimal(1)
DEFAULT_LIMIT = 5


@dataclass(frozen=True)
class HeldAsset:
    """An asset held now: total amount, current USD price and the ticker's ``open24h``."""

    asset: str
    amount: Decimal
    price: Decimal | None
    open24h: Decimal | None = None
    open_basis: str = "24h"
    """``utc_day`` when ``open24h`` is today's open at 00:00 UTC (Kraken's ticker)."""

    @property
    def value(self) -> Decimal | None:
        return None if self.price is None else multiply(self.amount, self.price)


@dataclass(frozen=True)
class Mover:
    """One asset's price change over ``window``; ``value`` is the position's value now."""

    asset: str
    change_pct: Decimal
    value: Decimal
    window: str
    basis: ChangeBasis
    price_then: Decimal
    price_now: Decimal


@dataclass(frozen=True)
class PnlMover:
    """One asset's position P/L (USD) and, when the cost basis is positive, as a percent."""

    asset: str
    pnl: Decimal
    pct: Decimal | None
    value: Decimal


def top_movers(
    held: Iterable[HeldAsset],
    prices_then: Mapping[str, Decimal],
    *,
    window: str = "24h",
    threshold: Decimal = DEFAULT_THRESHOLD,
    limit: int | None = DEFAULT_LIMIT,
    cash: Collection[str] = CASH_ASSETS,
) -> tuple[list[Mover], list[Mover]]:
    """``(gainers, losers)`` by price change over ``window`` (see the module docstring).

    ``prices_then`` holds each asset's snapshot price at the window's start (absent: none).
    """
    key = parse_window(window)
    ranked: list[tuple[Fraction, Mover]] = []
    for item in held:
        value = item.value
        if item.asset in cash or item.price is None or value is None or value < threshold:
            continue
        then = prices_then.get(item.asset)
        basis = ChangeBasis.HISTORY
        if then is None and key == "24h" and item.open24h is not None:
            then = item.open24h
            basis = ChangeBasis.OPEN24H if item.open_basis == "24h" else ChangeBasis.OPEN_UTC
        if then is None or then <= ZERO:
            continue
        ratio = Fraction(item.price) / Fraction(then) - 1  # exact, for the ranking only
        pct = percent(subtract(item.price, then), then)
        assert pct is not None
        ranked.append((ratio, Mover(item.asset, pct, value, key, basis, then, item.price)))
    gainers = sorted((r for r in ranked if r[0] > 0), key=lambda r: (-r[0], r[1].asset))
    losers = sorted((r for r in ranked if r[0] < 0), key=lambda r: (r[0], r[1].asset))
    return [m for _r, m in gainers][:limit], [m for _r, m in losers][:limit]


def pnl_movers(
    report: PnlReport,
    *,
    threshold: Decimal = DEFAULT_THRESHOLD,
    limit: int | None = DEFAULT_LIMIT,
) -> tuple[list[PnlMover], list[PnlMover]]:
    """``(gainers, losers)`` by unrealized P/L of the held position, in USD."""
    rows: list[PnlMover] = []
    for row in report.assets:
        if row.unrealized is None or row.value is None or row.value < threshold:
            continue
        pct = None
        if row.cost_basis > ZERO:
            pct = percent(row.unrealized, row.cost_basis)
        rows.append(PnlMover(row.asset, row.unrealized, pct, row.value))
    gainers = sorted(
        (m for m in rows if m.pnl > ZERO), key=lambda m: (m.pnl.copy_negate(), m.asset)
    )
    losers = sorted((m for m in rows if m.pnl < ZERO), key=lambda m: (m.pnl, m.asset))
    return gainers[:limit], losers[:limit]
