"""Trade records (fills, transfers, ledger entries) as plain records; the balance snapshots
behind the value series are ``keyfolio.domain.records.Snapshot``.

Every amount is ``Decimal``. ``Trade.amount`` is in the base asset, ``Trade.price`` in the
quote asset per base unit, and ``fee`` is a positive amount paid in ``fee_asset``. A rebate
(a negative fee on OKX) is a negative ``fee``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "CONTENT_ID_PREFIX",
    "HistoryKind",
    "LedgerEntry",
    "Trade",
    "TradeSide",
    "Transfer",
    "TransferKind",
]


CONTENT_ID_PREFIX = "export:"
"""The id prefix of a trade imported from an exchange export whose rows carry no trade id (its id
is made from its content). The exchange's own record of the same fill (same pair, side, amount,
price and second), imported later through the API, replaces it."""


class TradeSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class TransferKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class HistoryKind(StrEnum):
    """The kinds of history imported per account; each has its own cursor."""

    TRADES = "trades"
    DEPOSITS = "deposits"
    WITHDRAWALS = "withdrawals"
    LEDGER = "ledger"


@dataclass(frozen=True)
class Trade:
    """One fill. ``origin`` is ``exchange``, ``export`` (an exchange's own CSV file), ``csv``
    or ``manual``.

    ``trade_id`` is unique per account (OKX's ``tradeId`` qualified by ``instId``; CSV and
    manual ids are derived from the row). ``inst_type`` is OKX's ``SPOT``/``MARGIN``/... .
    """

    account: str
    trade_id: str
    at: datetime
    base: str
    quote: str
    side: TradeSide
    amount: Decimal
    price: Decimal
    fee: Decimal = Decimal(0)
    fee_asset: str | None = None
    inst_type: str = "SPOT"
    order_id: str | None = None
    origin: str = "exchange"

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}"


@dataclass(frozen=True)
class Transfer:
    """A deposit into or a withdrawal out of one account. ``amount`` is positive;
    ``fee`` (withdrawals) is paid in ``asset`` on top of ``amount``."""

    account: str
    transfer_id: str
    at: datetime
    kind: TransferKind
    asset: str
    amount: Decimal
    fee: Decimal = Decimal(0)
    txid: str | None = None
    status: str = "ok"
    origin: str = "exchange"


@dataclass(frozen=True)
class LedgerEntry:
    """One bill (balance change) of a trading or funding account. ``change`` is signed."""

    account: str
    entry_id: str
    at: datetime
    asset: str
    change: Decimal
    balance_after: Decimal | None
    kind: str
    source: str
    reference: str | None = None
