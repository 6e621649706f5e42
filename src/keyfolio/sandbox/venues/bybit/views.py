"""Bybit V5 public answers (server time, spot instruments and tickers, Earn products), and the
number formats and lookups every Bybit view shares.

Every amount, price and time inside ``result`` is a string (``"0.5"``, ``"1700000000000"``), as
Bybit types them; only the envelope's ``retCode`` and ``time`` are numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from keyfolio.sandbox.core.book import Account, Book, Key, Ticker, digest, now_ms
from keyfolio.sandbox.venues.bybit.auth import failure

__all__ = [
    "LST_SWAP_COINS",
    "Params",
    "Row",
    "account_of",
    "coins_param",
    "earn_product",
    "instruments_info",
    "market_of",
    "markets",
    "plain",
    "product_id",
    "server_time",
    "tickers",
]

Params = Mapping[str, str]
Row = dict[str, Any]

LST_SWAP_COINS: dict[str, str] = {"SOL": "BBSOL"}
"""OnChain Earn products in LST mode: staking the coin credits the swap coin to the wallet
(Bybit's staked SOL, ``BBSOL``). The sandbox lists the position too (unverified on Bybit)."""

_PERCENT = Decimal("0.0001")


def plain(value: Decimal) -> str:
    """Bybit's notation: no exponent and no padding, ``"0"``, ``"0.5"``, ``"61000"``."""
    if value == 0:
        return "0"
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        normalized = normalized.quantize(Decimal(1))
    return f"{normalized:f}"


def account_of(book: Book, key: Key | None) -> Account:
    assert key is not None  # private routes only
    return book.account(key.account)


def markets(book: Book) -> dict[str, Ticker]:
    """Every spot market by Bybit symbol (``BTCUSDT``)."""
    return {t.base + t.quote: t for t in sorted(book.tickers.values(), key=lambda t: t.symbol)}


def market_of(book: Book, symbol: str) -> Ticker | None:
    return markets(book).get(symbol)


def coins_param(params: Params, *, most: int | None = None) -> list[str] | None:
    """``coin=BTC,ETH`` as a list (None when absent); upper-case only, at most ``most``."""
    raw = params.get("coin", "")
    if not raw:
        return None
    coins = [part for part in raw.split(",") if part]
    if any(coin != coin.upper() for coin in coins):
        raise failure(10001, detail="coin must be uppercase")
    if most is not None and len(coins) > most:
        raise failure(10001, detail=f"coin supports at most {most} coins")
    return coins


def product_id(category: str, coin: str) -> str:
    """A stable Earn product id for a coin."""
    return str(int(digest("bybit-product", category, coin)[:8], 16) % 90_000 + 10_000)


# -- public ---------------------------------------------------------------------------------


def server_time(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/market/time``: seconds and nanoseconds as strings."""
    now = now_ms()
    return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}


def _category(params: Params, allowed: tuple[str, ...]) -> str:
    category = params.get("category", "")
    if not category:
        raise failure(10001, detail="params error: category is required")
    if category not in allowed:
        raise failure(10001, detail=f"params error: category {category} is invalid")
    return category


def _tick(price: Decimal) -> str:
    for floor, tick in ((Decimal(1000), "0.01"), (Decimal(1), "0.0001")):
        if price >= floor:
            return tick
    return "0.00000001"


def _instrument(t: Ticker) -> Row:
    return {
        "symbol": t.base + t.quote,
        "baseCoin": t.base,
        "quoteCoin": t.quote,
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "none",
        "stTag": "0",
        "lotSizeFilter": {
            "basePrecision": "0.000001",
            "quotePrecision": "0.00000001",
            "minOrderQty": "0.000048",
            "maxOrderQty": "9000000",
            "minOrderAmt": "1",
            "maxOrderAmt": "2000000",
        },
        "priceFilter": {"tickSize": _tick(t.last)},
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
    }


def instruments_info(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/market/instruments-info?category=spot`` [``symbol``]; derivatives list nothing."""
    category = _category(params, ("spot", "linear", "inverse", "option"))
    rows: list[Row] = []
    if category == "spot":
        chosen = list(markets(book).values())
        if params.get("symbol"):
            chosen = [t for t in chosen if t.base + t.quote == params["symbol"]]
        if params.get("status") and params["status"] != "Trading":
            chosen = []
        rows = [_instrument(t) for t in chosen]
    return {"category": category, "list": rows, "nextPageCursor": ""}


def _ticker_row(t: Ticker) -> Row:
    change = ((t.last - t.open24h) / t.open24h).quantize(_PERCENT, ROUND_HALF_EVEN)
    usd = Decimal(1) if t.base in ("USDT", "USDC") else t.last if t.quote == "USDT" else None
    return {
        "symbol": t.base + t.quote,
        "bid1Price": plain(t.last),
        "bid1Size": "1",
        "ask1Price": plain(t.last),
        "ask1Size": "1",
        "lastPrice": plain(t.last),
        "prevPrice24h": plain(t.open24h),
        "price24hPcnt": f"{change:f}",
        "highPrice24h": plain(t.high24h),
        "lowPrice24h": plain(t.low24h),
        "turnover24h": plain(t.vol24h * t.last),
        "volume24h": plain(t.vol24h),
        "usdIndexPrice": plain(usd) if usd is not None else "",
    }


def tickers(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/market/tickers?category=spot`` [``symbol``]: every spot ticker in one answer."""
    category = _category(params, ("spot", "linear", "inverse", "option"))
    chosen = list(markets(book).values()) if category == "spot" else []
    if params.get("symbol"):
        chosen = [t for t in chosen if t.base + t.quote == params["symbol"]]
        if not chosen:
            raise failure(10001, detail="Not supported symbols")
    return {"category": category, "list": [_ticker_row(t) for t in chosen]}


def _earn_coins(book: Book, category: str) -> list[str]:
    source = "earn" if category == "FlexibleSaving" else "earn_onchain"
    found = {"BTC", "ETH", "USDT", "USDC"} | ({"SOL"} if category == "OnChain" else set())
    for account in book.accounts.values():
        found.update(account.balances.get(source, {}))
    return sorted(found)


def earn_product(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/earn/product?category=FlexibleSaving|OnChain`` [``coin``] (no authentication).

    OnChain products of :data:`LST_SWAP_COINS` are in LST mode: ``swapCoin`` is set.
    """
    category = _category(params, ("FlexibleSaving", "OnChain"))
    wanted = params.get("coin")
    rows = []
    for coin in _earn_coins(book, category):
        if wanted and coin != wanted:
            continue
        swap = LST_SWAP_COINS.get(coin, "") if category == "OnChain" else ""
        rows.append(
            {"category": category, "estimateApr": "3%", "coin": coin, "minStakeAmount": "0.001",
             "maxStakeAmount": "1000000", "precision": "8",
             "productId": product_id(category, coin), "status": "Available", "bonusEvents": [],
             "minRedeemAmount": "0.001" if swap else "", "maxRedeemAmount": "1000" if swap else "",
             "duration": "Flexible" if category == "OnChain" else "", "term": 0,
             "swapCoin": swap, "swapCoinPrecision": "8" if swap else "",
             "stakeExchangeRate": "0.95" if swap else "",
             "redeemExchangeRate": "1.05" if swap else "",
             "rewardDistributionType": ("Other" if swap else "Simple")
             if category == "OnChain" else "",
             "rewardIntervalMinute": 60, "redeemProcessingMinute": 0,
             "stakeTime": "", "interestCalculationTime": ""}
        )  # fmt: skip
    return {"list": rows}
