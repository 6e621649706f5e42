"""Binance public REST answers, and the number formats and lookups every Binance view shares.

Prices and amounts are strings: 8 decimals on ``/api`` (:func:`f8`), unpadded on ``/sapi``
(:func:`plain`); times are numbers of milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from keyfolio.sandbox.core.book import Account, Book, Key, Ticker, now_ms
from keyfolio.sandbox.venues.binance.auth import failure

__all__ = [
    "Params",
    "Row",
    "account_of",
    "exchange_info",
    "f8",
    "markets",
    "no_derivatives",
    "ping",
    "plain",
    "server_time",
    "system_status",
    "ticker_24hr",
    "ticker_price",
]

Params = Mapping[str, str]
Row = dict[str, Any]
_DAY_MS = 86_400_000


def f8(value: Decimal) -> str:
    """Binance's ``/api`` notation: at least 8 decimals, ``"0.50000000"``."""
    exponent = value.as_tuple().exponent
    places = max(8, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return f"{value:.{places}f}"


def plain(value: Decimal) -> str:
    """Binance's ``/sapi`` notation: no exponent, no padding, ``"1"``, ``"0.5"``."""
    if value == 0:
        return "0"
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        normalized = normalized.quantize(Decimal(1))
    return f"{normalized:f}"


def account_of(book: Book, key: Key | None) -> Account:
    assert key is not None  # signed routes only
    return book.account(key.account)


def markets(book: Book) -> dict[str, Ticker]:
    return {t.base + t.quote: t for t in sorted(book.tickers.values(), key=lambda t: t.symbol)}


def _symbols(params: Params, book: Book) -> list[Ticker] | Ticker | None:
    """``symbol`` (one ticker), ``symbols`` (a JSON array), or None for every market."""
    known = markets(book)
    if params.get("symbol"):
        found = known.get(params["symbol"])
        if found is None:
            raise failure(-1121)
        return found
    if params.get("symbols"):
        try:
            names = json.loads(params["symbols"])
        except ValueError:
            raise failure(
                -1100,
                param="symbols",
                legal='^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$',
            ) from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise failure(-1102, param="symbols")
        chosen = [known.get(n) for n in names]
        if any(t is None for t in chosen):
            raise failure(-1121)
        return [t for t in chosen if t is not None]
    return None


# -- public ---------------------------------------------------------------------------------


def ping(book: Book, key: Key | None, params: Params) -> Row:
    return {}


def server_time(book: Book, key: Key | None, params: Params) -> Row:
    return {"serverTime": now_ms()}


def system_status(book: Book, key: Key | None, params: Params) -> Row:
    return {"status": 0, "msg": "normal"}


def no_derivatives(book: Book, key: Key | None, params: Params) -> Row:
    """``/fapi`` and ``/dapi`` exchange info: the sandbox lists no futures."""
    return {
        "timezone": "UTC",
        "serverTime": now_ms(),
        "rateLimits": [],
        "assets": [],
        "symbols": [],
    }


def _tick(price: Decimal) -> str:
    for floor, tick in ((Decimal(1000), "0.01"), (Decimal(1), "0.0001")):
        if price >= floor:
            return f8(Decimal(tick))
    return "0.00000001"


def _symbol_row(t: Ticker) -> Row:
    return {
        "symbol": t.base + t.quote,
        "status": "TRADING",
        "baseAsset": t.base,
        "baseAssetPrecision": 8,
        "quoteAsset": t.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _tick(t.last),
                "maxPrice": "1000000.00000000",
                "tickSize": _tick(t.last),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001000",
                "maxQty": "9000000.00000000",
                "stepSize": "0.00001000",
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.00000000",
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],  # fmt: skip
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def exchange_info(book: Book, key: Key | None, params: Params) -> Row:
    """``/api/v3/exchangeInfo`` [``symbol`` | ``symbols``]."""
    chosen = _symbols(params, book)
    tickers = list(markets(book).values()) if chosen is None else chosen
    rows = [_symbol_row(t) for t in (tickers if isinstance(tickers, list) else [tickers])]
    return {
        "timezone": "UTC",
        "serverTime": now_ms(),
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
            },
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 61000,
            },
        ],  # fmt: skip
        "exchangeFilters": [],
        "symbols": rows,
    }


def _ticker_row(t: Ticker) -> Row:
    change = t.last - t.open24h
    percent = (change / t.open24h * 100).quantize(Decimal("0.001"), ROUND_HALF_EVEN)
    return {
        "symbol": t.base + t.quote,
        "priceChange": f8(change),
        "priceChangePercent": f"{percent:f}",
        "weightedAvgPrice": f8(t.last),
        "prevClosePrice": f8(t.open24h),
        "lastPrice": f8(t.last),
        "lastQty": "0.01000000",
        "bidPrice": f8(t.last),
        "bidQty": "1.00000000",
        "askPrice": f8(t.last),
        "askQty": "1.00000000",
        "openPrice": f8(t.open24h),
        "highPrice": f8(t.high24h),
        "lowPrice": f8(t.low24h),
        "volume": f8(t.vol24h),
        "quoteVolume": f8(t.vol24h * t.last),
        "openTime": t.ts - _DAY_MS,
        "closeTime": t.ts,
        "firstId": 1,
        "lastId": 1000,
        "count": 1000,
    }


def ticker_24hr(book: Book, key: Key | None, params: Params) -> Row | list[Row]:
    """``/api/v3/ticker/24hr``: one object for ``symbol``, else a list (rolling 24 h)."""
    chosen = _symbols(params, book)
    if isinstance(chosen, Ticker):
        return _ticker_row(chosen)
    tickers = list(markets(book).values()) if chosen is None else chosen
    return [_ticker_row(t) for t in tickers]


def ticker_price(book: Book, key: Key | None, params: Params) -> Row | list[Row]:
    chosen = _symbols(params, book)
    if isinstance(chosen, Ticker):
        return {"symbol": chosen.base + chosen.quote, "price": f8(chosen.last)}
    tickers = list(markets(book).values()) if chosen is None else chosen
    return [{"symbol": t.base + t.quote, "price": f8(t.last)} for t in tickers]
