"""Binance's spot trade history export (Orders > Spot Order > Trade History > Export).

Two layouts are recognised by their columns (times are UTC, ``2024-01-02 10:00:00``):

* ``Date(UTC), Pair, Side, Price, Executed, Amount, Fee``: ``Executed`` is the base amount
  with its asset (``0.00100000BTC``), ``Amount`` the quote amount with its asset
  (``60.10000000USDT``), ``Fee`` the fee with its asset (``0.00000100BNB``); the pair's two
  assets are found where the pair's letters end in the units (``1000SATSUSDT``);
* ``Date(UTC), Market, Type, Price, Amount, Total, Fee, Fee Coin`` (older): ``Market`` is the
  symbol (``BTCUSDT``), split at the longest known quote asset.

The rows carry **no trade id**, so each trade gets an ``export:`` id made from its content (and
its occurrence in the file), and ``keyfolio import csv`` matches it to the trades the API import
stored (same pair, side, amount, price and second) instead of adding it twice; a trade the API
imports later replaces it (:data:`keyfolio.domain.history.CONTENT_ID_PREFIX`). Asset codes go
through the account's asset map (the venue's rules and the user's overrides), as the API's do.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from keyfolio.domain.assets import AssetMap
from keyfolio.domain.history import CONTENT_ID_PREFIX, Trade, TradeSide
from keyfolio.domain.money import parse_decimal
from keyfolio.exchanges.exports import ExportFormat, ExportRecord, Row

__all__ = ["FORMATS", "TRADE_HISTORY", "TRADE_HISTORY_OLD", "parse_trade_history"]

#: Quote assets of Binance spot markets, longest first where one ends another.
_QUOTES = (
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "BIDR", "IDRT", "DAI", "BTC", "ETH", "BNB",
    "EUR", "GBP", "TRY", "BRL", "AUD", "RUB", "UAH", "NGN", "ZAR", "PLN", "RON", "ARS", "JPY",
    "MXN", "COP", "CZK", "XRP", "TRX", "DOGE", "DOT", "PAX", "VAI",
)  # fmt: skip
_NUMBER = re.compile(r"^[0-9][0-9,]*(\.[0-9]+)?")
_CODE = re.compile(r"^[A-Z0-9]{1,20}$")


def _time(text: str) -> datetime:
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"time {text!r} is not YYYY-MM-DD HH:MM:SS (UTC)") from None


def _number(text: str, field: str) -> Decimal:
    cleaned = text.strip().replace(",", "")
    try:
        return parse_decimal(cleaned, field=field)
    except ValueError as exc:
        raise ValueError(f"{field} {text!r} is not a number ({exc})") from None


def _splits(text: str) -> list[tuple[str, str]]:
    """Every (number, code) reading of ``0.001BTC``-like text, longest number first."""
    value = text.strip().replace(",", "")
    found = []
    for end in range(len(value) - 1, 0, -1):
        number, code = value[:end], value[end:]
        if _NUMBER.fullmatch(number) and _CODE.match(code):
            found.append((number, code))
    return found


def _with_unit(text: str, field: str, *, pair: str | None = None, side: str = "") -> tuple[
    Decimal, str
]:  # fmt: skip
    """``0.001BTC`` -> (0.001, BTC). With ``pair``, the code the pair starts (``side=base``) or
    ends (``side=quote``) with wins."""
    readings = _splits(text)
    if not readings:
        raise ValueError(f"{field} {text!r} is not an amount with its asset, e.g. 0.001BTC")
    for number, code in readings:
        if pair is None or (pair.startswith(code) if side == "base" else pair.endswith(code)):
            return _number(number, field), code
    raise ValueError(f"{field} {text!r} is not in an asset of the pair {pair}")


def _symbol(market: str) -> tuple[str, str]:
    symbol = market.strip().upper().replace("/", "").replace("-", "")
    for quote in sorted(_QUOTES, key=len, reverse=True):
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise ValueError(f"market {market!r} does not end in a quote asset keyfolio knows")


def _side(text: str) -> TradeSide:
    side = text.strip().lower()
    if side not in ("buy", "sell"):
        raise ValueError(f"side {text!r} must be BUY or SELL")
    return TradeSide(side)


def _fields_new(row: Mapping[str, str]) -> tuple[str, str, Decimal, Decimal, Decimal, str]:
    pair = row.get("pair", "").strip().upper()
    amount, base = _with_unit(row.get("executed", ""), "Executed", pair=pair, side="base")
    _, quote = _with_unit(row.get("amount", ""), "Amount", pair=pair, side="quote")
    if base + quote != pair:
        raise ValueError(f"Executed is in {base} and Amount in {quote}, but the pair is {pair}")
    fee_text = row.get("fee", "").strip()
    fee, fee_asset = (Decimal(0), "") if fee_text in ("", "0") else _fee(fee_text, base, quote)
    return base, quote, amount, _number(row.get("price", ""), "Price"), fee, fee_asset


def _fee(text: str, base: str, quote: str) -> tuple[Decimal, str]:
    readings = _splits(text)
    for number, code in readings:
        if code in (base, quote, "BNB"):
            return _number(number, "Fee"), code
    if readings:
        number, code = readings[-1]  # the shortest number: the code as long as it can be
        return _number(number, "Fee"), code
    raise ValueError(f"Fee {text!r} is not an amount with its asset, e.g. 0.0001BNB")


def _fields_old(row: Mapping[str, str]) -> tuple[str, str, Decimal, Decimal, Decimal, str]:
    base, quote = _symbol(row.get("market", ""))
    fee_asset = row.get("fee coin", "").strip().upper()
    if fee_asset and not _CODE.match(fee_asset):
        raise ValueError(f"Fee Coin {fee_asset!r} is not an asset code")
    amount = _number(row.get("amount", ""), "Amount")
    price = _number(row.get("price", ""), "Price")
    return base, quote, amount, price, _number(row.get("fee", "") or "0", "Fee"), fee_asset


def parse_trade_history(
    account: str, rows: Sequence[Row], assets: AssetMap
) -> tuple[list[ExportRecord], list[str]]:
    """The export's rows as trades with ``export:`` ids made from their content."""
    records: list[ExportRecord] = []
    problems: list[str] = []
    seen: Counter[tuple[str, ...]] = Counter()
    for line, row in rows:
        try:
            at = _time(row.get("date(utc)", ""))
            side = _side(row.get("side") or row.get("type") or "")
            parts = _fields_new(row) if "executed" in row else _fields_old(row)
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        base, quote, amount, price, fee, fee_asset = parts
        if amount <= 0 or price <= 0:
            problems.append(f"line {line}: amount and price must be greater than zero")
            continue
        content = (at.isoformat(), base, quote, side.value, str(amount), str(price), str(fee),
                   fee_asset)  # fmt: skip
        digest = hashlib.sha256("\x1f".join([*content, str(seen[content])]).encode()).hexdigest()
        seen[content] += 1
        records.append(
            Trade(
                account=account,
                trade_id=f"{CONTENT_ID_PREFIX}binance:{digest[:24]}",
                at=at,
                base=assets.asset(base),
                quote=assets.asset(quote),
                side=side,
                amount=amount,
                price=price,
                fee=fee,
                fee_asset=assets.asset(fee_asset) if fee_asset else None,
                inst_type="SPOT",
            )
        )
    return records, problems


TRADE_HISTORY = ExportFormat(
    venue="binance",
    name="Binance spot trade history",
    required=frozenset({"date(utc)", "pair", "side", "price", "executed", "amount", "fee"}),
    parse=parse_trade_history,
    content_ids=True,
)
TRADE_HISTORY_OLD = ExportFormat(
    venue="binance",
    name="Binance spot trade history (older layout)",
    required=frozenset({"date(utc)", "market", "type", "price", "amount", "total", "fee"}),
    optional=frozenset({"fee coin"}),
    parse=parse_trade_history,
    content_ids=True,
)
FORMATS = (TRADE_HISTORY, TRADE_HISTORY_OLD)
"""What ``keyfolio import csv`` recognises as Binance's."""
