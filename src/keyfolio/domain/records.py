"""Stored facts, as the storage layer hands them to services: plain frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from keyfolio.domain.balances import Source, SourceStatus

__all__ = ["BalanceRecord", "Portfolio", "Price", "Snapshot", "SourceState", "Ticker"]


@dataclass(frozen=True)
class Portfolio:
    name: str
    created_at: datetime


@dataclass(frozen=True)
class BalanceRecord:
    """One asset in one source of one account, as last synced."""

    account: str
    source: Source
    asset: str
    amount: Decimal
    synced_at: datetime
    stale: bool = False


@dataclass(frozen=True)
class SourceState:
    """The last read of one source of one account."""

    account: str
    source: Source
    status: SourceStatus
    updated_at: datetime
    error_code: str | None = None
    error: str | None = None
    hint: str | None = None
    last_ok_at: datetime | None = None


@dataclass(frozen=True)
class Price:
    """The USD price of one asset, where it came from and when.

    ``source`` names the market, e.g. ``okx:BTC-USDT`` or ``okx:ETH-BTC*BTC-USDT``,
    or ``par`` for USD stablecoins counted 1:1. ``open_basis`` says what ``open24h_usd`` is:
    ``24h`` (the price 24 hours ago) or ``utc_day`` (today's open at 00:00 UTC, Kraken's).
    """

    asset: str
    usd: Decimal
    source: str
    as_of: datetime
    open24h_usd: Decimal | None = None
    open_basis: str = "24h"


@dataclass(frozen=True)
class Ticker:
    """One spot market of one venue, in canonical asset codes: last price and 24 h open.

    ``symbol`` is ``BASE-QUOTE`` (``BTC-USDT``). ``open24h`` is the price 24 hours ago, or
    ``None`` where the venue gives none (``open_basis`` says what the venue's open is when it is
    not a rolling 24 h: Kraken's is today's open at 00:00 UTC).
    """

    symbol: str
    last: Decimal
    open24h: Decimal | None
    ts: datetime
    venue: str = "okx"
    open_basis: str = "24h"

    @property
    def base(self) -> str:
        return self.symbol.split("-")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("-")[1]


@dataclass(frozen=True)
class Snapshot:
    """The amount (and value, where priced) of one asset in one source at one moment (a
    snapshot set's row: the value series are computed from them)."""

    at: datetime
    account: str
    source: str
    asset: str
    amount: Decimal
    price: Decimal | None
    price_source: str | None
    value: Decimal | None
