"""Tax lots: every disposal of the P/L replay, lot by lot (``keyfolio pnl --lots``).

The P/L engine (:func:`keyfolio.analytics.pnl.compute_pnl` with ``lots=[]``) calls
:func:`record_disposal` wherever it realizes a gain or loss or gives units up: a sale or a swap,
a fee paid in a non-cash asset, a withdrawal fee, the shortfall of a transfer between own
accounts. Each lot the disposal took becomes one :class:`LotUse`:

* FIFO: one row per lot, oldest first, with the lot's acquisition time;
* average cost: one row per pool (account and asset) at the pool's average cost, dated at the
  pool's unit-weighted mean acquisition time;
* units of unknown basis (an unmatched deposit, holdings older than the history) and units
  beyond every lot: rows whose ``cost`` and ``gain`` are ``None``.

The disposal's proceeds (and the fee already taken off them) are split over its rows in
proportion to their units, the last row of each kind taking the remainder so that the parts add
up exactly. So the sum of every row's ``gain`` is exactly the report's ``total_realized``: a
known row gains ``proceeds - cost``; an unknown row gains nothing that counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from keyfolio.domain.money import prorate, total

if TYPE_CHECKING:
    from keyfolio.analytics.pnl import CostMethod, PnlReport

__all__ = ["LOT_COLUMNS", "LotUse", "LotsReport", "record_disposal", "total_gain"]

ZERO = Decimal(0)

Piece = tuple[Decimal, Decimal | None, datetime | None]

#: The columns of ``keyfolio pnl --lots --csv`` and of each JSON row, in order.
LOT_COLUMNS = (
    "asset",
    "account",
    "disposed_at",
    "acquired_at",
    "amount",
    "cost",
    "proceeds",
    "fee",
    "gain",
    "holding_days",
)


@dataclass(frozen=True)
class LotUse:
    """Part of one lot given up by one disposal, in USD.

    ``amount`` units of ``asset`` held in ``account`` since ``acquired_at`` (``None``: sold
    beyond every lot) left at ``disposed_at``. ``cost`` is their cost basis (``None``: unknown
    basis), ``proceeds`` their share of what the disposal got, net of ``fee`` (``None`` when the
    disposal had no USD value), ``gain`` is ``proceeds - cost`` (``None`` when either is
    unknown: such units are not in realized P/L), ``holding_days`` the whole days between the
    two times.
    """

    asset: str
    account: str
    disposed_at: datetime
    acquired_at: datetime | None
    amount: Decimal
    cost: Decimal | None
    proceeds: Decimal | None
    fee: Decimal
    gain: Decimal | None

    @property
    def holding_days(self) -> int | None:
        if self.acquired_at is None:
            return None
        return (self.disposed_at - self.acquired_at).days


@dataclass(frozen=True)
class LotsReport:
    """Every disposal of a P/L run, lot by lot; ``total_gain`` equals ``pnl.total_realized``."""

    method: CostMethod
    lots: list[LotUse]
    total_gain: Decimal
    pnl: PnlReport
    currency: str = "USD"


def _split(value: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``value`` in parts proportional to ``weights``; the last part takes the remainder, so the
    parts add up to ``value`` exactly (equal parts when every weight is zero)."""
    if not weights:
        return []
    whole = total(weights)
    if whole == ZERO:
        weights, whole = [Decimal(1)] * len(weights), Decimal(len(weights))
    parts = [prorate(value, weight, whole) for weight in weights[:-1]]
    return [*parts, value - total(parts)]


def record_disposal(
    lots: list[LotUse],
    *,
    asset: str,
    account: str,
    at: datetime,
    pieces: Sequence[Piece],
    proceeds: Decimal | None,
    known_proceeds: Decimal | None,
    fee: Decimal,
) -> None:
    """Append one disposal's rows: ``pieces`` are the lots it took (``(units, cost, at)``),
    ``known_proceeds`` the part of ``proceeds`` its known-basis units realized."""
    pieces = [piece for piece in pieces if piece[0] or piece[1]]
    if not pieces:
        if not proceeds and not fee:
            return
        # Nothing left the books (a rebate in the asset as large as the amount given):
        # what the disposal got is all gain.
        pieces = [(ZERO, ZERO, at)]
    known = [i for i, piece in enumerate(pieces) if piece[1] is not None]
    unknown = [i for i, piece in enumerate(pieces) if piece[1] is None]
    shares: dict[int, Decimal | None] = dict.fromkeys(range(len(pieces)))
    if proceeds is not None and known_proceeds is not None:
        for group, value in ((known, known_proceeds), (unknown, proceeds - known_proceeds)):
            parts = _split(value, [pieces[i][0] for i in group])
            shares.update(zip(group, parts, strict=True))
    fees = _split(fee, [piece[0] for piece in pieces])
    for index, (units, cost, acquired) in enumerate(pieces):
        share = shares[index]
        lots.append(
            LotUse(
                asset=asset,
                account=account,
                disposed_at=at,
                acquired_at=acquired,
                amount=units,
                cost=cost,
                proceeds=share,
                fee=fees[index],
                gain=None if share is None or cost is None else share - cost,
            )
        )


def total_gain(lots: Sequence[LotUse]) -> Decimal:
    """The exact sum of the known gains: equal to the P/L report's ``total_realized``."""
    return total(lot.gain for lot in lots if lot.gain is not None)
