"""Public REST rows: server time, instruments, tickers and index tickers.

Each function returns the ``data`` list of one endpoint (every number a string) or raises
``OkxFailure`` for a bad parameter, as OKX does.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from keyfolio.sandbox.core.market import Ticker
from keyfolio.sandbox.venues.okx.book import Book
from keyfolio.sandbox.venues.okx.protocol import failure, fmt, now_ms

__all__ = [
    "index_tickers",
    "instruments",
    "market_ticker",
    "market_tickers",
    "public_time",
    "ticker_row",
]

Row = dict[str, Any]
Query = Mapping[str, str]
INST_TYPES = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION")
_LIST_TIME = "1606468572000"


def _inst_type(query: Query, allowed: tuple[str, ...] = INST_TYPES) -> str:
    inst_type = query.get("instType", "")
    if inst_type not in allowed:
        raise failure("51000", param="instType")
    return inst_type


def public_time(book: Book, query: Query) -> list[Row]:
    """``/api/v5/public/time``: the server's time (its clock, offset by the control API)."""
    return [{"ts": str(now_ms())}]


def _tick_size(price: Decimal) -> str:
    for floor, tick in ((Decimal(1000), "0.1"), (Decimal(10), "0.01"), (Decimal(1), "0.001")):
        if price >= floor:
            return tick
    return "0.00000001"


def _instrument_row(ticker: Ticker) -> Row:
    return {
        "alias": "",
        "auctionEndTime": "",
        "baseCcy": ticker.base,
        "category": "1",
        "contTdSwTime": "",
        "ctMult": "",
        "ctType": "",
        "ctVal": "",
        "ctValCcy": "",
        "expTime": "",
        "futureSettlement": False,
        "instFamily": "",
        "instId": ticker.symbol,
        "instType": "SPOT",
        "lever": "",
        "listTime": _LIST_TIME,
        "lotSz": "0.00000001",
        "maxIcebergSz": "9999999999.0000000000000000",
        "maxLmtAmt": "20000000",
        "maxLmtSz": "9999999999",
        "maxMktAmt": "1000000",
        "maxMktSz": "1000000",
        "maxStopSz": "1000000",
        "maxTriggerSz": "9999999999",
        "maxTwapSz": "9999999999.0000000000000000",
        "minSz": "0.00001",
        "openType": "",
        "optType": "",
        "quoteCcy": ticker.quote,
        "ruleType": "normal",
        "settleCcy": "",
        "state": "live",
        "stk": "",
        "tickSz": _tick_size(ticker.last),
        "tradeQuoteCcyList": [ticker.quote],
        "uly": "",
    }


def instruments(book: Book, query: Query) -> list[Row]:
    """``/api/v5/public/instruments``: SPOT rows from the tickers, other types empty."""
    inst_type = _inst_type(query, ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"))
    if inst_type == "OPTION" and not (query.get("uly") or query.get("instFamily")):
        raise failure("51000", param="uly")
    if inst_type != "SPOT":
        return []
    inst_id = query.get("instId", "")
    return [
        _instrument_row(t)
        for t in sorted(book.tickers.values(), key=lambda t: t.symbol)
        if not inst_id or t.symbol == inst_id
    ]


def ticker_row(ticker: Ticker) -> Row:
    """The ticker object shared by REST ``/market/ticker(s)`` and the WS tickers channel."""
    return {
        "instType": "SPOT",
        "instId": ticker.symbol,
        "last": fmt(ticker.last),
        "lastSz": "0.01",
        "askPx": fmt(ticker.last),
        "askSz": "1",
        "bidPx": fmt(ticker.last),
        "bidSz": "1",
        "open24h": fmt(ticker.open24h),
        "high24h": fmt(ticker.high24h),
        "low24h": fmt(ticker.low24h),
        "volCcy24h": fmt(ticker.vol24h * ticker.last),
        "vol24h": fmt(ticker.vol24h),
        "ts": str(ticker.ts),
        "sodUtc0": fmt(ticker.open24h),
        "sodUtc8": fmt(ticker.open24h),
    }


def market_tickers(book: Book, query: Query) -> list[Row]:
    """``/api/v5/market/tickers``: ``instType`` is required; only SPOT has rows."""
    if _inst_type(query, ("SPOT", "SWAP", "FUTURES", "OPTION")) != "SPOT":
        return []
    return [ticker_row(t) for t in sorted(book.tickers.values(), key=lambda t: t.symbol)]


def market_ticker(book: Book, query: Query) -> list[Row]:
    """``/api/v5/market/ticker?instId=BTC-USDT``."""
    inst_id = query.get("instId", "")
    if not inst_id:
        raise failure("51000", param="instId")
    ticker = book.tickers.get(inst_id)
    if ticker is None:
        raise failure("51001")
    return [ticker_row(ticker)]


def _index_price(book: Book, base: str, quote: str, *, opening: bool) -> Decimal | None:
    base_usd = book.usd_price(base, opening=opening)
    quote_usd = book.usd_price(quote, opening=opening)
    if base_usd is None or quote_usd is None or quote_usd == 0:
        return None
    return (base_usd / quote_usd).quantize(Decimal("0.00000001"), ROUND_HALF_EVEN)


def _index_row(book: Book, base: str, quote: str, ts: str) -> Row | None:
    last = _index_price(book, base, quote, opening=False)
    opening = _index_price(book, base, quote, opening=True)
    if last is None or opening is None:
        return None
    return {
        "instId": f"{base}-{quote}",
        "idxPx": fmt(last),
        "high24h": fmt(max(last, opening)),
        "low24h": fmt(min(last, opening)),
        "open24h": fmt(opening),
        "sodUtc0": fmt(opening),
        "sodUtc8": fmt(opening),
        "ts": ts,
    }


def index_tickers(book: Book, query: Query) -> list[Row]:
    """``/api/v5/market/index-tickers``: ``quoteCcy`` (USD/USDT/USDC/BTC) or ``instId``."""
    ts = str(now_ms())
    inst_id = query.get("instId", "")
    if inst_id:
        parts = inst_id.split("-")
        row = _index_row(book, parts[0], parts[-1], ts) if len(parts) == 2 else None
        if row is None:
            raise failure("51001")
        return [row]
    quote = query.get("quoteCcy", "")
    if quote not in ("USD", "USDT", "USDC", "BTC"):
        raise failure("51000", param="quoteCcy")
    bases = sorted({t.base for t in book.tickers.values()} - {quote})
    rows = [_index_row(book, base, quote, ts) for base in bases]
    return [row for row in rows if row is not None]
