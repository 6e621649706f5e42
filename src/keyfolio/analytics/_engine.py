"""The P/L replay: one engine that walks the fills and transfers in time order.

The rules are in docs/analytics.md ("P/L"); :mod:`keyfolio.analytics.pnl` is the public face
(:func:`~keyfolio.analytics.pnl.compute_pnl`, the report types) and documents them in short.
This module holds the moving parts: the engine that applies one event at a time to a lot book
(:mod:`keyfolio.analytics._lots`), the pairing of withdrawals with deposits, and the replay
order. When asked, the engine also records every disposal lot by lot
(:class:`~keyfolio.analytics.lots.LotUse`, ``keyfolio pnl --lots``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter

from keyfolio.analytics._lots import Book, Lot, Piece
from keyfolio.analytics.lots import LotUse, record_disposal
from keyfolio.domain.history import Trade, TradeSide, Transfer, TransferKind
from keyfolio.domain.money import multiply, prorate, subtract

__all__ = [
    "MATCH_AFTER",
    "MATCH_BEFORE",
    "MATCH_SHORTFALL",
    "SPOT_TYPES",
    "Engine",
    "FlagKind",
    "Stats",
    "UsdRate",
    "match_transfers",
    "replay",
]

ZERO = Decimal(0)
ONE = Decimal(1)

#: A deposit matches a withdrawal (same asset, another account, no common txid) when it
#: arrives from MATCH_BEFORE before to MATCH_AFTER after it, for the withdrawn amount or
#: up to MATCH_SHORTFALL (a fraction) less.
MATCH_BEFORE = timedelta(minutes=5)
MATCH_AFTER = timedelta(hours=72)
MATCH_SHORTFALL = Decimal("0.001")

#: Instrument types whose fills are spot exchanges of one asset for another.
SPOT_TYPES = frozenset({"SPOT", "MARGIN"})

UsdRate = Callable[[str, datetime], Decimal | None]


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


class Stats:
    """What one asset's disposals and fees added up to."""

    __slots__ = ("fees", "realized", "unknown_proceeds", "unknown_sold")

    def __init__(self) -> None:
        self.realized = ZERO
        self.fees = ZERO
        self.unknown_sold = ZERO
        self.unknown_proceeds = ZERO


_DEPOSIT, _TRADES, _WITHDRAWAL, _ARRIVAL = 0, 1, 2, 3


class Engine:
    """One P/L run. Not reusable."""

    def __init__(
        self,
        book: Book,
        usd_rate: UsdRate,
        cash: Collection[str],
        *,
        lots: list[LotUse] | None = None,
    ) -> None:
        self.book = book
        self.lots = lots
        self.cash = frozenset(cash)
        self._usd_rate = usd_rate
        self._rates: dict[tuple[str, datetime], Decimal | None] = {}
        self.stats: dict[str, Stats] = {}
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

    def stat(self, asset: str) -> Stats:
        stats = self.stats.get(asset)
        if stats is None:
            stats = self.stats[asset] = Stats()
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
            self.record(asset, account, at, [(ZERO, cost, at)], ZERO, ZERO)

    def record(
        self,
        asset: str,
        account: str,
        at: datetime,
        pieces: list[Piece],
        proceeds: Decimal | None,
        known_proceeds: Decimal | None,
        fee: Decimal = ZERO,
    ) -> None:
        """Add one disposal's lots to the lot list (when one is kept)."""
        if self.lots is not None:
            record_disposal(
                self.lots,
                asset=asset,
                account=account,
                at=at,
                pieces=pieces,
                proceeds=proceeds,
                known_proceeds=known_proceeds,
                fee=fee,
            )

    def dispose(
        self,
        account: str,
        asset: str,
        units: Decimal,
        proceeds: Decimal | None,
        at: datetime,
        unpriced: FlagKind | None = FlagKind.UNPRICED_QUOTE,
        fee: Decimal = ZERO,
    ) -> None:
        """Give up ``units`` for ``proceeds`` USD (``None``: unknown, flagged as ``unpriced``).

        ``fee`` is the USD fee already taken off ``proceeds`` (for the lot list only)."""
        if units < ZERO:  # a rebate larger than the amount given: an acquisition
            self.acquire(account, asset, -units, None if proceeds is None else -proceeds, at)
            return
        pieces: list[Piece] | None = None if self.lots is None else []
        known, cost, unknown, missing = self.book.remove(account, asset, units, pieces)
        stats = self.stat(asset)
        known_proceeds: Decimal | None
        if proceeds is None:
            # The value is unknown: only the basis leaves, nothing is realized.
            if unpriced is not None:
                self.flag(unpriced, asset, units)
            known_proceeds = None
        elif unknown == ZERO and missing == ZERO:
            stats.realized += proceeds - cost
            known_proceeds = proceeds
        else:
            known_proceeds = prorate(proceeds, known, units) if known else ZERO
            stats.realized += known_proceeds - cost
            stats.unknown_sold += unknown + missing
            stats.unknown_proceeds += proceeds - known_proceeds
            if unknown:
                self.flag(FlagKind.SOLD_UNKNOWN_BASIS, asset, unknown)
            if missing:
                self.flag(FlagKind.SOLD_BEYOND_HISTORY, asset, missing)
        if pieces is not None:
            self.record(asset, account, at, pieces, proceeds, known_proceeds, fee)

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
            fee_value = ZERO if fee_usd is None else fee_usd
            if fee_asset == gave:
                self.dispose(t.account, gave, gave_units + t.fee, value, at, fee=fee_value)
            else:
                proceeds = _minus(value, fee_value)
                self.dispose(t.account, gave, gave_units, proceeds, at, fee=fee_value)
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
        pieces: list[Piece] | None = None if self.lots is None else []
        _known, cost, unknown, missing = self.book.remove(w.account, w.asset, w.fee, pieces)
        stats = self.stat(w.asset)
        stats.realized -= cost
        stats.unknown_sold += unknown + missing
        rate = self.rate(w.asset, w.at)
        fee = cost if rate is None else w.fee * rate
        stats.fees += fee
        if pieces is not None:
            self.record(w.asset, w.account, w.at, pieces, ZERO, ZERO, fee)

    def arrival(self, d: Transfer, key: int, sent: Transfer) -> None:
        """Lots of a matched withdrawal arrive; a shortfall is dropped (a network fee)."""
        lots = self.transit.pop(key, [])
        shortfall = sent.amount - d.amount
        if shortfall > ZERO:
            # Drop the shortfall from the last lots, realizing their cost as a loss.
            while shortfall > ZERO and lots:
                lot = lots[-1]
                take = min(lot.amount, shortfall)
                part = None
                if lot.cost is not None:
                    part = prorate(lot.cost, take, lot.amount)
                    lot.cost -= part
                    self.stat(d.asset).realized -= part
                self.record(d.asset, sent.account, d.at, [(take, part, lot.at)], ZERO, ZERO)
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


def replay(engine: Engine, trades: Sequence[Trade], transfers: Sequence[Transfer]) -> None:
    """Apply every fill and ``ok`` transfer to ``engine`` in time order: at one moment,
    deposits first, then fills, then withdrawals (a matched deposit arrives with its
    withdrawal, or later)."""
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
                engine.arrival(transfer, index, sent)
        else:
            engine.deposit(transfer)
    for item in ordered[position:]:
        trade(item)


_AT = attrgetter("at")
