"""Profit and loss per asset and in total, FIFO or average cost, in USD (Decimal only).

The exact rules are in docs/analytics.md ("P/L"). In short:

- A fill gives up one asset and acquires another. Its USD value ``V`` is ``amount x price``
  times the quote's USD rate (1 for cash, else ``usd_rate(quote, at)``).
- Cash (USD and USD stablecoins, :data:`CASH_ASSETS`) has no lots and no P/L.
- When the acquired asset is not cash the acquisition carries the fee: its lot costs
  ``V`` plus the fee's USD value, or ``V`` for fewer units when the fee is paid in it.
  Otherwise the disposal carries it: proceeds are ``V`` less the fee (or ``V`` for more
  units given up when the fee is paid in the asset given up).
- A fee paid in a third, non-cash asset is also a disposal of that asset at its USD value.
- A withdrawal matched to a deposit in another account moves the lots with their basis.
- Anything without a known basis is *flagged* and kept out of realized/unrealized P/L.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from keyfolio.analytics._engine import (
    MATCH_AFTER,
    MATCH_BEFORE,
    MATCH_SHORTFALL,
    SPOT_TYPES,
    Engine,
    FlagKind,
    Stats,
    UsdRate,
    match_transfers,
    replay,
)
from keyfolio.analytics._lots import AverageBook, Book, FifoBook
from keyfolio.analytics.lots import LotUse
from keyfolio.domain.assets import USD, USD_STABLECOINS
from keyfolio.domain.history import Trade, Transfer
from keyfolio.domain.money import RefusedValue, format_amount, money_context, total

__all__ = [
    "CASH_ASSETS",
    "MATCH_AFTER",
    "MATCH_BEFORE",
    "MATCH_SHORTFALL",
    "SPOT_TYPES",
    "AssetPnl",
    "CostMethod",
    "FlagKind",
    "PnlFlag",
    "PnlReport",
    "UsdRate",
    "compute_pnl",
    "match_transfers",
]

logger = logging.getLogger(__name__)

ZERO = Decimal(0)

#: USD and USD stablecoins, counted 1:1 as cash: no lots, no P/L, never flagged.
CASH_ASSETS: frozenset[str] = frozenset({USD, *USD_STABLECOINS})


class CostMethod(StrEnum):
    """How a disposal picks its cost basis."""

    FIFO = "fifo"
    AVERAGE = "average"


_FLAG_TEXT = {
    FlagKind.UNKNOWN_BASIS_DEPOSIT: "deposited with no matching withdrawal: cost basis unknown",
    FlagKind.HELD_BEFORE_HISTORY: "held but not explained by the imported history "
    "(e.g. bought before the 3-month window): cost basis unknown",
    FlagKind.SOLD_UNKNOWN_BASIS: "sold from lots of unknown basis: not in realized P/L",
    FlagKind.SOLD_BEYOND_HISTORY: "sold beyond every known lot: not in realized P/L",
    FlagKind.UNPRICED_QUOTE: "traded against a quote with no USD rate at the fill: "
    "acquired amount has unknown basis, the disposal is not in realized P/L",
    FlagKind.UNVALUED_FEE: "fee paid in an asset with no USD rate: fee not valued",
    FlagKind.UNMATCHED_WITHDRAWAL: "withdrawn to an address outside the portfolio: "
    "lots removed without realized P/L",
    FlagKind.HOLDINGS_BELOW_HISTORY: "the history implies more than is held: "
    "the excess lots were dropped without realized P/L",
    FlagKind.NO_PRICE: "held with no current price: unrealized P/L unknown",
    FlagKind.SKIPPED_TRADE: "fills of derivatives are not in spot P/L",
}


@dataclass(frozen=True)
class PnlFlag:
    """``amount`` of ``asset`` (over ``count`` events) whose P/L is incomplete, and why."""

    kind: FlagKind
    asset: str
    amount: Decimal
    count: int

    @property
    def message(self) -> str:
        return f"{self.asset}: {format_amount(self.amount)} {_FLAG_TEXT[self.kind]}"


@dataclass(frozen=True)
class AssetPnl:
    """P/L of one asset over every account, in USD.

    ``amount`` is the amount held; ``cost_basis`` is the USD cost of its known-basis part and
    ``unknown_basis_amount`` the part with unknown basis. ``unrealized`` is
    ``(amount - unknown_basis_amount) x price - cost_basis`` (``None`` without a price).
    ``realized`` covers disposals of known-basis units only; units sold with unknown basis are
    in ``unknown_basis_sold`` and their proceeds in ``unknown_basis_proceeds``. ``fees`` is
    the USD value of the fees this asset bore (already inside cost basis and realized).
    """

    asset: str
    amount: Decimal
    cost_basis: Decimal
    realized: Decimal
    unrealized: Decimal | None
    fees: Decimal
    unknown_basis_amount: Decimal
    price: Decimal | None
    value: Decimal | None = None
    unknown_basis_sold: Decimal = ZERO
    unknown_basis_proceeds: Decimal = ZERO

    @property
    def known_amount(self) -> Decimal:
        return self.amount - self.unknown_basis_amount

    @property
    def flagged(self) -> bool:
        return (
            self.unknown_basis_amount != ZERO
            or self.unknown_basis_sold != ZERO
            or self.unrealized is None
        )


@dataclass(frozen=True)
class PnlReport:
    """P/L of a set of accounts. Totals sum the per-asset figures that are known."""

    method: CostMethod
    assets: list[AssetPnl]
    total_realized: Decimal
    total_unrealized: Decimal
    flags: list[PnlFlag] = field(default_factory=list)
    currency: str = "USD"
    refused: list[RefusedValue] = field(default_factory=list)
    """Stored values outside the money bounds that were left out (filled in by the service)."""

    @property
    def notes(self) -> list[str]:
        return [flag.message for flag in self.flags]

    def asset(self, name: str) -> AssetPnl:
        """The row of ``name`` (KeyError when it has none)."""
        for row in self.assets:
            if row.asset == name:
                return row
        raise KeyError(name)


def compute_pnl(
    trades: Sequence[Trade],
    transfers: Sequence[Transfer],
    *,
    holdings: Mapping[str, Decimal] | None,
    prices: Mapping[str, Decimal],
    method: CostMethod = CostMethod.FIFO,
    usd_rate: UsdRate,
    cash: Collection[str] = CASH_ASSETS,
    lots: list[LotUse] | None = None,
) -> PnlReport:
    """P/L of ``trades`` and ``transfers`` (every account of one portfolio) in USD.

    ``holdings`` is the amount held now per asset (over the same accounts); the lots are
    reconciled with it (``None`` skips that). ``prices`` are current USD prices.
    ``usd_rate(asset, at)`` is the USD price of a non-cash asset at a past moment, or None.
    Transfers whose status is not ``ok`` are ignored. With ``lots`` (a list), every disposal is
    appended to it lot by lot; their gains add up to ``total_realized`` exactly.
    """
    cost_method = CostMethod(method)
    with money_context():  # exact sums and products; divisions round via prorate()
        book: Book = (
            FifoBook() if cost_method is CostMethod.FIFO else AverageBook(dated=lots is not None)
        )
        engine = Engine(book, usd_rate, cash, lots=lots)
        replay(engine, trades, transfers)
        return _report(engine, cost_method, holdings, prices)


def _report(
    engine: Engine,
    method: CostMethod,
    holdings: Mapping[str, Decimal] | None,
    prices: Mapping[str, Decimal],
) -> PnlReport:
    totals = engine.book.totals()
    assets = set(totals) | set(engine.stats)
    if holdings is not None:
        assets |= {asset for asset, amount in holdings.items() if amount}
    rows: list[AssetPnl] = []
    for asset in sorted(assets - engine.cash):
        known, cost, unknown = totals.get(asset, (ZERO, ZERO, ZERO))
        if holdings is not None:
            held = holdings.get(asset, ZERO)
            lots = known + unknown
            if held > lots:
                unknown += held - lots
                engine.flag(FlagKind.HELD_BEFORE_HISTORY, asset, held - lots)
            elif held < lots:
                k, c, u, _missing = engine.book.trim(asset, lots - held)
                known, cost, unknown = known - k, cost - c, unknown - u
                engine.flag(FlagKind.HOLDINGS_BELOW_HISTORY, asset, lots - held)
        amount = known + unknown
        stats = engine.stats.get(asset) or Stats()
        price = prices.get(asset)
        if price is None:
            unrealized = None if known else ZERO
            if amount:
                engine.flag(FlagKind.NO_PRICE, asset, amount)
        else:
            unrealized = known * price - cost
        rows.append(
            AssetPnl(
                asset=asset,
                amount=amount,
                cost_basis=cost,
                realized=stats.realized,
                unrealized=unrealized,
                fees=stats.fees,
                unknown_basis_amount=unknown,
                price=price,
                value=None if price is None else amount * price,
                unknown_basis_sold=stats.unknown_sold,
                unknown_basis_proceeds=stats.unknown_proceeds,
            )
        )
    if engine.transit:
        logger.debug("%d transfers still in transit", len(engine.transit))
    flags = [
        PnlFlag(kind, asset, Decimal(entry[0]), int(entry[1]))
        for (kind, asset), entry in sorted(engine.flags.items())
        if asset not in engine.cash
    ]
    return PnlReport(
        method=method,
        assets=rows,
        total_realized=total(row.realized for row in rows),
        total_unrealized=total(row.unrealized for row in rows if row.unrealized is not None),
        flags=flags,
    )
