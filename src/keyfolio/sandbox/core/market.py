"""The markets every venue's books share: tickers, USD prices, price changes, account lookup.

:class:`MarketBook` is the base of the common :class:`~keyfolio.sandbox.core.book.Book` and of a
venue's own books (OKX): it holds the spot tickers in common ``BASE-QUOTE`` codes, values an asset
in USD from them, applies the control API's price changes, and finds an account by name. What an
account holds, and how a trade settles, is the subclass's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import ClassVar, Generic, TypeVar

from keyfolio.sandbox.core.clock import now_ms
from keyfolio.sandbox.core.state import CommonTicker

__all__ = ["STABLE_USD", "BookError", "MarketBook", "OnSymbol", "Ticker", "parse_amount"]

STABLE_USD = frozenset({"USD", "USDT", "USDC"})
_TICKER_FIELDS = frozenset({"last", "open24h", "high24h", "low24h", "vol24h"})

AccountT = TypeVar("AccountT")


class BookError(ValueError):
    """A control request the books cannot apply (unknown account, insufficient balance...)."""


def parse_amount(text: object, *, what: str, positive: bool = False) -> Decimal:
    """A control-API decimal: a JSON string, finite, non-negative (or positive)."""
    if not isinstance(text, str):
        raise BookError(f'{what} must be a JSON string such as "0.5", not {type(text).__name__}')
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise BookError(f"{what}: {text!r} is not a decimal number") from None
    if not value.is_finite() or value < 0 or (positive and value == 0):
        raise BookError(f"{what}: {text!r} must be {'positive' if positive else 'zero or more'}")
    return value


class OnSymbol:
    """A record of one ``BASE-QUOTE`` market (a ticker, a fill): its two assets."""

    symbol: str

    @property
    def base(self) -> str:
        """The base asset (``BTC`` of ``BTC-USDT``)."""
        return self.symbol.split("-")[0]

    @property
    def quote(self) -> str:
        """The quote asset (``USDT`` of ``BTC-USDT``)."""
        return self.symbol.split("-")[1]


@dataclass
class Ticker(OnSymbol):
    """A spot market in common codes: the last price and the price 24 hours ago."""

    symbol: str
    last: Decimal
    open24h: Decimal
    high24h: Decimal
    low24h: Decimal
    vol24h: Decimal
    ts: int

    @classmethod
    def from_state(cls, symbol: str, state: CommonTicker, ts: int) -> Ticker:
        """Build from the state file; ``open24h`` defaults to ``last``."""
        last = Decimal(state.last)
        open24h = Decimal(state.open24h) if state.open24h is not None else last
        high = Decimal(state.high24h) if state.high24h is not None else max(last, open24h)
        low = Decimal(state.low24h) if state.low24h is not None else min(last, open24h)
        vol = Decimal(state.vol24h) if state.vol24h is not None else Decimal(0)
        return cls(symbol, last, open24h, high, low, vol, ts)


class MarketBook(Generic[AccountT]):
    """Tickers and accounts of one venue's sandbox, in Decimal.

    ``usd_quotes``: the quotes :meth:`usd_price` tries, in order, before going through ``-BTC``.
    ``nouns``: what the venue calls a market, and its names, in error messages (OKX: an
    instrument, instrument ids).
    """

    usd_quotes: ClassVar[tuple[str, ...]] = ("USDT", "USD", "USDC")
    nouns: ClassVar[tuple[str, str]] = ("market", "markets")
    accounts: dict[str, AccountT]

    def __init__(self, tickers: Mapping[str, CommonTicker], *, start_ms: int | None) -> None:
        self.start_ms = start_ms if start_ms is not None else now_ms()
        self.tickers: dict[str, Ticker] = {
            symbol: Ticker.from_state(symbol, ticker, self.start_ms)
            for symbol, ticker in tickers.items()
        }
        self.accounts = {}

    # -- lookups ------------------------------------------------------------------------------

    def account(self, name: str) -> AccountT:
        """The named account, or :class:`BookError`."""
        try:
            return self.accounts[name]
        except KeyError:
            raise BookError(f"unknown account {name!r}") from None

    def market(self, symbol: str) -> Ticker:
        """The ticker of a market a control-API trade names, or :class:`BookError`."""
        ticker = self.tickers.get(symbol)
        if ticker is None:
            raise BookError(f"unknown {self.nouns[0]} {symbol!r}; add it with /__sandbox__/tickers")
        return ticker

    def usd_price(self, asset: str, *, opening: bool = False) -> Decimal | None:
        """USD value of one unit: stablecoins 1, then each of ``usd_quotes``, then via -BTC."""
        if asset in STABLE_USD:
            return Decimal(1)
        for quote in self.usd_quotes:
            ticker = self.tickers.get(f"{asset}-{quote}")
            if ticker is not None:
                return ticker.open24h if opening else ticker.last
        via_btc = self.tickers.get(f"{asset}-BTC")
        if via_btc is not None and asset != "BTC":
            btc = self.usd_price("BTC", opening=opening)
            if btc is not None:
                return (via_btc.open24h if opening else via_btc.last) * btc
        return None

    def ticker_assets(self) -> set[str]:
        """Every asset named by a ticker (as base or quote)."""
        found: set[str] = set()
        for ticker in self.tickers.values():
            found.update((ticker.base, ticker.quote))
        return found

    # -- control operations -------------------------------------------------------------------

    def set_tickers(self, updates: dict[str, object]) -> list[str]:
        """Apply ``{"BTC-USDT": {"last": "61000"}}``; new markets need ``last``."""
        noun, names = self.nouns
        parsed: dict[str, dict[str, Decimal]] = {}
        for symbol, fields in updates.items():
            parts = symbol.split("-")
            if len(parts) != 2 or not all(p.isalnum() and p.upper() == p for p in parts):
                raise BookError(f"{symbol!r}: {names} look like BASE-QUOTE")
            if not isinstance(fields, dict):
                raise BookError(f'{symbol}: expected an object such as {{"last": "61000"}}')
            unknown = set(fields) - _TICKER_FIELDS
            if unknown:
                raise BookError(f"{symbol}: unknown ticker fields {sorted(unknown)}")
            values = {
                k: parse_amount(v, what=f"{symbol}.{k}", positive=k != "vol24h")
                for k, v in fields.items()
            }
            if symbol not in self.tickers and "last" not in values:
                raise BookError(f"{symbol}: a new {noun} needs 'last'")
            parsed[symbol] = values
        ts = now_ms()
        for symbol, values in parsed.items():
            ticker = self.tickers.get(symbol)
            if ticker is None:
                last = values["last"]
                opening = values.get("open24h", last)
                ticker = Ticker(symbol, last, opening, max(last, opening), min(last, opening),
                                Decimal(0), ts)  # fmt: skip
                self.tickers[symbol] = ticker
            for name, value in values.items():
                setattr(ticker, name, value)
            if "high24h" not in values:
                ticker.high24h = max(ticker.high24h, ticker.last)
            if "low24h" not in values:
                ticker.low24h = min(ticker.low24h, ticker.last)
            ticker.ts = ts
        return sorted(parsed)
