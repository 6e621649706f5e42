"""Kraken's public REST answers (``GET /0/public/<Method>``) and the number formats all views share.

Amounts and prices are strings with a fixed number of decimals (an asset's ``decimals``, a pair's
``pair_decimals``; more when a value needs them, so nothing is rounded); times are unix seconds;
counts are numbers. ``Ticker``'s ``o`` is today's opening price (00:00 UTC), which the sandbox
takes from the state's ``open24h``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from keyfolio.sandbox.core.book import Key, now_ms
from keyfolio.sandbox.venues.kraken.auth import KrakenFailure
from keyfolio.sandbox.venues.kraken.book import AssetRow, KrakenBook, Pair

__all__ = [
    "Params",
    "Result",
    "asset_pairs",
    "assets",
    "fixed",
    "pair_decimals",
    "server_time",
    "system_status",
    "ticker",
]

Params = Mapping[str, str]
Result = Any


def fixed(value: Decimal, places: int) -> str:
    """``value`` with at least ``places`` decimals, more if it needs them (never rounded)."""
    exponent = value.normalize().as_tuple().exponent
    needed = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return f"{value:.{max(places, needed)}f}"


def pair_decimals(price: Decimal) -> int:
    """A pair's price decimals: 1 for prices of 1000 and more, 2 from 10, 5 below."""
    if price >= 1000:
        return 1
    if price >= 10:
        return 2
    return 5


def server_time(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``Time``: unix seconds and the RFC 1123 form Kraken sends."""
    moment = datetime.fromtimestamp(now_ms() / 1000, tz=UTC)
    return {
        "unixtime": int(moment.timestamp()),
        "rfc1123": moment.strftime("%a, %d %b %y %X +0000"),
    }


def system_status(book: KrakenBook, key: Key | None, params: Params) -> Result:
    moment = datetime.fromtimestamp(now_ms() / 1000, tz=UTC)
    return {"status": "online", "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _asset_json(row: AssetRow) -> dict[str, Any]:
    return {
        "aclass": "currency",
        "altname": row.altname,
        "decimals": row.decimals,
        "display_decimals": row.display,
        "collateral_value": 1,
        "status": "enabled",
    }


def assets(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``Assets[?asset=XBT,ETH][&aclass=currency]``: ids or altnames; unknown ->
    ``EQuery:Unknown asset``."""
    rows = book.asset_rows()
    wanted = [name for name in params.get("asset", "").split(",") if name]
    if wanted:
        chosen: dict[str, AssetRow] = {}
        for name in wanted:
            row = rows.get(name) or next((r for r in rows.values() if r.altname == name), None)
            if row is None:
                raise KrakenFailure("EQuery:Unknown asset")
            chosen[row.id] = row
        rows = chosen
    if params.get("aclass", "currency") != "currency":
        return {}
    return {asset_id: _asset_json(row) for asset_id, row in rows.items()}


def _pair_json(pair: Pair) -> dict[str, Any]:
    decimals = pair_decimals(pair.ticker.last)
    return {
        "altname": pair.altname,
        "wsname": pair.wsname,
        "aclass_base": "currency",
        "base": pair.base.id,
        "aclass_quote": "currency",
        "quote": pair.quote.id,
        "lot": "unit",
        "cost_decimals": 5,
        "pair_decimals": decimals,
        "lot_decimals": 8,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        "fees": [[0, 0.4], [10000, 0.35], [50000, 0.24]],
        "fees_maker": [[0, 0.25], [10000, 0.2], [50000, 0.14]],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": "0.00005",
        "costmin": "0.5",
        "tick_size": fixed(Decimal(1).scaleb(-decimals), decimals),
        "status": "online",
    }


def _chosen_pairs(book: KrakenBook, params: Params) -> list[Pair]:
    names = [name for name in params.get("pair", "").split(",") if name]
    if not names:
        return list(book.pairs().values())
    chosen = []
    for name in names:
        pair = book.pair(name)
        if pair is None:
            raise KrakenFailure("EQuery:Unknown asset pair")
        chosen.append(pair)
    return chosen


def asset_pairs(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``AssetPairs[?pair=XBTUSD,ETHXBT][&info=info]``: keyed by each pair's key."""
    return {pair.key: _pair_json(pair) for pair in _chosen_pairs(book, params)}


def _ticker_json(pair: Pair) -> dict[str, Any]:
    t = pair.ticker
    places = pair_decimals(t.last)

    def price(value: Decimal) -> str:
        return fixed(value, places)

    volume = fixed(t.vol24h, 8)
    vwap = price(t.last)
    return {
        "a": [price(t.last), "1", "1.000"],
        "b": [price(t.last), "1", "1.000"],
        "c": [price(t.last), "0.00100000"],
        "v": [volume, volume],
        "p": [vwap, vwap],
        "t": [100, 200],
        "l": [price(t.low24h), price(t.low24h)],
        "h": [price(t.high24h), price(t.high24h)],
        "o": price(t.open24h),
    }


def ticker(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``Ticker[?pair=...]``: every pair without ``pair``; keys are the pairs' keys even when
    asked by altname (``pair=XBTUSD`` -> ``XXBTZUSD``)."""
    return {pair.key: _ticker_json(pair) for pair in _chosen_pairs(book, params)}
