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
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter

from keyfolio.analytics._lots import AverageBook, Book, FifoBook, Lot
from keyfolio.domain.history import Trade, TradeSide, Transfer, TransferKind
from keyfolio.domain.money import RefusedValue, money_context, multiply, prorate, subtract, total

__all__ = [
    "CASH_ASSETS",
    "MATCH_AFTER",
    "MATCH_BEFORE",
    "MATCH_SHORTFALL",
    "AssetPnl",
    "CostMethod",
    "FlagKind",
    "PnlFlag",
    "PnlReport",
    "UsdRate",
    "compute_pnl",
]

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
ONE = Decimal(1)

#: USD and USD stablecoins, counted 1:1 as cash: no lots, no P/L, never flagged.
CASH_ASSETS: frozenset[str] = frozenset(
    {"USD", "USDT", "USDC", "DAI", "TUSD", "USDP", "BUSD", "FDUSD", "PYUSD"}
)

#: A deposit matches a withdrawal (same asset, another account, no common txid) when it
#: arrives from MATCH_BEFORE before to MATCH_AFTER after it, for the withdrawn amount or
#: up to MATCH_SHORTFALL (a fraction) less.
MATCH_BEFORE = timedelta(minutes=5)
MATCH_AFTER = timedelta(hours=72)
MATCH_SHORTFALL = Decimal("0.001")

#: Instrument types whose fills are spot exchanges of one asset for another.
SPOT_TYPES = frozenset({"SPOT", "MARGIN"})

UsdRate = Callable[[str, datetime], Decimal | None]


class CostMethod(StrEnum):
    """How a disposal picks its cost basis."""

    FIFO = "fifo"
    AVERAGE = "average"


class FlagKind(StrEnum):
    """Why an amount's P/L is incomplete. See docs/analytics.md for each."""

    UNKNOWN_BASIS_DEPOSIT = "unknown_basis_deposit"
    HELD_BEFORE_HISTORY = "held_before_history"
    SOLD_UNKNOWN_BASIS = "sold_unknown_basis"
    SOLD_BEYOND_HISTORY = "sold_beyond_history"
    UNPRICED_QUOTE = "unpriced_quote"
    UNVALUED_FEE = "unvalued_fee"
    UNMATCHED_WITHDRAWAL = "unmatched_withdrawal"
    HOLDINGS_BELOW_HISTORY = "holdings_below_history"
    NO_PRICE = "no_price"
    SKIPPED_TRADE = "skipped_trade"


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
        return f"{self.asset}: {self.amount:f} {_FLAG_TEXT[self.kind]}"


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


class _Stats:
    __slots__ = ("fees", "realized", "unknown_proceeds", "unknown_sold")

    def __init__(self) -> None:
        self.realized = ZERO
        self.fees = ZERO
        self.unknown_sold = ZERO
        self.unknown_proceeds = ZERO


_DEPOSIT, _TRADES, _WITHDRAWAL, _ARRIVAL = 0, 1, 2, 3


class _Engine:
    """One P/L run. Not reusable."""

    def __init__(self, method: CostMethod, usd_rate: UsdRate, cash: Collection[str]) -> None:
        self.book: Book = FifoBook() if method is CostMethod.FIFO else AverageBook()
        self.cash = frozenset(cash)
        self._usd_rate = usd_rate
        self._rates: dict[tuple[str, datetime], Decimal | None] = {}
        self.stats: dict[str, _Stats] = {}
        self.flags: dict[tuple[FlagKind, str], list[Decimal | int]] = {}
        self.transit: dict[int, list[Lot]] = {}

    # -- helpers -------------------------------------------------------------------------

    def rate(self, asset: str, at: datetime) -> Decimal | None:
        key = (asset, at)
        if key in self._rates:
            return self._rates[key]
        value = ONE if asset in self.cash else self._usd_rate(asset, at)
        self._rates[key] = value
        return value

    def stat(self, asset: str) -> _Stats:
        stats = self.stats.get(asset)
        if stats is None:
            stats = self.stats[asset] = _Stats()
        return stats

    def flag(self, kind: FlagKind, asset: str, amount: Decimal) -> None:
        entry = self.flags.get((kind, asset))
        if entry is None:
            self.flags[(kind, asset)] = [amount, 1]
        else:
            entry[0] += amount
            entry[1] += 1

    def acquire(
        self, account: str, asset: str, units: Decimal, cost: Decimal | None, at: datetime
    ) -> None:
        if units > ZERO:
            self.book.add(account, asset, units, cost, at)
        elif cost:
            # Everything acquired went to the fee: its cost is a loss now.
            self.stat(asset).realized -= cost

    def dispose(
        self,
        account: str,
        asset: str,
        units: Decimal,
        proceeds: Decimal | None,
        at: datetime,
        unpriced: FlagKind | None = FlagKind.UNPRICED_QUOTE,
    ) -> None:
        """Give up ``units`` for ``proceeds`` USD (``None``: unknown, flagged as ``unpriced``)."""
        if units < ZERO:  # a rebate larger than the amount given: an acquisition
            self.acquire(account, asset, -units, None if proceeds is None else -proceeds, at)
            return
        known, cost, unknown, missing = self.book.remove(account, asset, units)
        stats = self.stat(asset)
        if proceeds is None:
            # The value is unknown: only the basis leaves, nothing is realized.
            if unpriced is not None:
                self.flag(unpriced, asset, units)
            return
        if unknown == ZERO and missing == ZERO:
            stats.realized += proceeds - cost
            return
        known_proceeds = prorate(proceeds, known, units) if known else ZERO
        stats.realized += known_proceeds - cost
        stats.unknown_sold += unknown + missing
        stats.unknown_proceeds += proceeds - known_proceeds
        if unknown:
            self.flag(FlagKind.SOLD_UNKNOWN_BASIS, asset, unknown)
        if missing:
            self.flag(FlagKind.SOLD_BEYOND_HISTORY, asset, missing)

    # -- events --------------------------------------------------------------------------

    def trade(self, t: Trade) -> None:
        """Replay one fill: what was given up is disposed of, what was got is acquired."""
        if t.inst_type not in SPOT_TYPES:
            self.flag(FlagKind.SKIPPED_TRADE, t.base, t.amount)
            return
        cash = self.cash
        quote, at = t.quote, t.at
        quote_units = t.amount * t.price
        if quote in cash:
            value: Decimal | None = quote_units
            quote_rate: Decimal | None = ONE
        else:
            quote_rate = self.rate(quote, at)
            value = None if quote_rate is None else quote_units * quote_rate
        if t.side is TradeSide.BUY:
            got, got_units, gave, gave_units = t.base, t.amount, quote, quote_units
        else:
            got, got_units, gave, gave_units = quote, quote_units, t.base, t.amount
        fee_asset = t.fee_asset or quote
        fee_usd = self.fee_usd(t, fee_asset, quote_rate) if t.fee else ZERO
        if value is None and got not in cash:
            self.flag(FlagKind.UNPRICED_QUOTE, got, got_units)
        if got not in cash:
            self.acquisition_bears_fee(
                t, fee_asset, fee_usd, value, got, got_units, gave, gave_units
            )
        elif gave not in cash:
            # Sold for cash: the disposal bears the fee.
            if fee_asset == gave:
                self.dispose(t.account, gave, gave_units + t.fee, value, at)
            else:
                fee_value = ZERO if fee_usd is None else fee_usd
                self.dispose(t.account, gave, gave_units, _minus(value, fee_value), at)
            if fee_usd is not None:
                self.stat(gave).fees += fee_usd
        if t.fee and fee_asset != got and fee_asset != gave and fee_asset not in cash:
            self.dispose(t.account, fee_asset, t.fee, fee_usd, at, unpriced=None)

    def acquisition_bears_fee(
        self,
        t: Trade,
        fee_asset: str,
        fee_usd: Decimal | None,
        value: Decimal | None,
        got: str,
        got_units: Decimal,
        gave: str,
        gave_units: Decimal,
    ) -> None:
        """The acquired lot costs ``value`` plus the fee, or ``value`` for fewer units."""
        if fee_asset == got:
            cost = value
            got_units -= t.fee
        else:
            cost = None if value is None else value + (ZERO if fee_usd is None else fee_usd)
        self.acquire(t.account, got, got_units, cost, t.at)
        if gave not in self.cash:
            if fee_asset == gave:
                self.dispose(t.account, gave, gave_units + t.fee, _plus(value, fee_usd), t.at)
            else:
                self.dispose(t.account, gave, gave_units, value, t.at)
        if fee_usd is not None:
            self.stat(got).fees += fee_usd

    def fee_usd(self, t: Trade, fee_asset: str, quote_rate: Decimal | None) -> Decimal | None:
        """The fee in USD: at par for cash, at the fill's price for the base or the quote,
        else at ``usd_rate`` (``None`` and flagged when there is none)."""
        if fee_asset in self.cash:
            return t.fee
        if fee_asset == t.quote:
            return None if quote_rate is None else t.fee * quote_rate
        if fee_asset == t.base:
            return None if quote_rate is None else t.fee * t.price * quote_rate
        fee_rate = self.rate(fee_asset, t.at)
        if fee_rate is None:
            self.flag(FlagKind.UNVALUED_FEE, fee_asset, t.fee)
            return None
        return t.fee * fee_rate

    def withdrawal(self, w: Transfer, arrival: int | None) -> None:
        asset = w.asset
        if asset in self.cash:
            return
        if w.fee:
            self.withdrawal_fee(w)
        if arrival is None:
            self.book.remove(w.account, asset, w.amount)
            self.flag(FlagKind.UNMATCHED_WITHDRAWAL, asset, w.amount)
            return
        lots, _missing = self.book.extract(w.account, asset, w.amount)
        self.transit[arrival] = lots

    def withdrawal_fee(self, w: Transfer) -> None:
        """The fee units leave with zero proceeds: their known cost is a realized loss."""
        known, cost, unknown, missing = self.book.remove(w.account, w.asset, w.fee)
        stats = self.stat(w.asset)
        stats.realized -= cost
        stats.unknown_sold += unknown + missing
        rate = self.rate(w.asset, w.at)
        if rate is not None:
            stats.fees += w.fee * rate
        else:
            stats.fees += cost

    def arrival(self, d: Transfer, key: int, sent: Decimal) -> None:
        """Lots of a matched withdrawal arrive; a shortfall is dropped (a network fee)."""
        lots = self.transit.pop(key, [])
        shortfall = sent - d.amount
        if shortfall > ZERO:
            # Drop the shortfall from the last lots, realizing their cost as a loss.
            while shortfall > ZERO and lots:
                lot = lots[-1]
                take = min(lot.amount, shortfall)
                if lot.cost is not None:
                    part = prorate(lot.cost, take, lot.amount)
                    lot.cost -= part
                    self.stat(d.asset).realized -= part
                lot.amount -= take
                shortfall -= take
                if lot.amount == ZERO:
                    lots.pop()
        self.book.insert(d.account, d.asset, lots)

    def deposit(self, d: Transfer) -> None:
        if d.asset in self.cash:
            return
        self.acquire(d.account, d.asset, d.amount, None, d.at)
        self.flag(FlagKind.UNKNOWN_BASIS_DEPOSIT, d.asset, d.amount)


def _plus(value: Decimal | None, fee: Decimal | None) -> Decimal | None:
    return None if value is None or fee is None else value + fee


def _minus(value: Decimal | None, fee: Decimal) -> Decimal | None:
    return None if value is None else value - fee


def match_transfers(transfers: Sequence[Transfer]) -> dict[int, int]:
    """Pair withdrawals with deposits of the same asset into another account.

    Returns ``{index of withdrawal: index of deposit}`` into ``transfers``. A common txid
    matches first; then, in time order, the earliest unmatched deposit that arrives within
    ``[at - MATCH_BEFORE, at + MATCH_AFTER]`` for the withdrawn amount or up to
    ``MATCH_SHORTFALL`` of it less.
    """
    withdrawals = [i for i, t in enumerate(transfers) if t.kind is TransferKind.WITHDRAWAL]
    deposits = [i for i, t in enumerate(transfers) if t.kind is TransferKind.DEPOSIT]
    withdrawals.sort(key=lambda i: (transfers[i].at, transfers[i].transfer_id))
    deposits.sort(key=lambda i: (transfers[i].at, transfers[i].transfer_id))
    pairs: dict[int, int] = {}
    used: set[int] = set()
    by_txid: dict[tuple[str, str], list[int]] = {}
    for i in deposits:
        if transfers[i].txid:
            by_txid.setdefault((transfers[i].asset, transfers[i].txid or ""), []).append(i)
    for w in withdrawals:
        sent = transfers[w]
        for d in by_txid.get((sent.asset, sent.txid or ""), []) if sent.txid else []:
            if d not in used and transfers[d].account != sent.account:
                pairs[w] = d
                used.add(d)
                break
    for w in withdrawals:
        if w in pairs:
            continue
        sent = transfers[w]
        low = subtract(sent.amount, multiply(sent.amount, MATCH_SHORTFALL))
        for d in deposits:
            got = transfers[d]
            if d in used or got.asset != sent.asset or got.account == sent.account:
                continue
            if got.at < sent.at - MATCH_BEFORE or got.at > sent.at + MATCH_AFTER:
                continue
            if low <= got.amount <= sent.amount:
                pairs[w] = d
                used.add(d)
                break
    return pairs


def compute_pnl(
    trades: Sequence[Trade],
    transfers: Sequence[Transfer],
    *,
    holdings: Mapping[str, Decimal] | None,
    prices: Mapping[str, Decimal],
    method: CostMethod = CostMethod.FIFO,
    usd_rate: UsdRate,
    cash: Collection[str] = CASH_ASSETS,
) -> PnlReport:
    """P/L of ``trades`` and ``transfers`` (every account of one portfolio) in USD.

    ``holdings`` is the amount held now per asset (over the same accounts); the lots are
    reconciled with it (``None`` skips that). ``prices`` are current USD prices.
    ``usd_rate(asset, at)`` is the USD price of a non-cash asset at a past moment, or None.
    Transfers whose status is not ``ok`` are ignored.
    """
    with money_context():  # exact sums and products; divisions round via prorate()
        engine = _Engine(CostMethod(method), usd_rate, cash)
        _replay(engine, trades, transfers)
        return _report(engine, CostMethod(method), holdings, prices)


def _replay(engine: _Engine, trades: Sequence[Trade], transfers: Sequence[Transfer]) -> None:
    done = [t for t in transfers if t.status == "ok"]
    pairs = match_transfers(done)
    arrivals = {d: w for w, d in pairs.items()}
    events: list[tuple[datetime, int, str, int]] = []
    for i, t in enumerate(done):
        if t.kind is TransferKind.WITHDRAWAL:
            events.append((t.at, _WITHDRAWAL, t.transfer_id, i))
        elif i in arrivals:
            sent_at = done[arrivals[i]].at
            when = max(t.at, sent_at)
            events.append((when, _ARRIVAL if when == sent_at else _DEPOSIT, t.transfer_id, i))
        else:
            events.append((t.at, _DEPOSIT, t.transfer_id, i))
    events.sort()
    ordered = sorted(trades, key=_AT)
    trade = engine.trade
    position = 0
    for when, rank, _tid, index in events:
        # Trades at the same moment go after deposits and before withdrawals.
        if rank == _DEPOSIT:
            end = bisect_left(ordered, when, lo=position, key=_AT)
        else:
            end = bisect_right(ordered, when, lo=position, key=_AT)
        for item in ordered[position:end]:
            trade(item)
        position = end
        transfer = done[index]
        if transfer.kind is TransferKind.WITHDRAWAL:
            engine.withdrawal(transfer, pairs.get(index))
        elif index in arrivals:
            sent = done[arrivals[index]]
            if transfer.asset not in engine.cash:
                engine.arrival(transfer, index, sent.amount)
        else:
            engine.deposit(transfer)
    for item in ordered[position:]:
        trade(item)


_AT = attrgetter("at")


def _report(
    engine: _Engine,
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
        stats = engine.stats.get(asset) or _Stats()
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
