"""Binance history: trades per symbol, deposits and withdrawals, read from the raw strings.

**Trades** (``GET /api/v3/myTrades``) need one symbol per request. Scanning every market (rotki
does, one request each: a sync takes 15-20 minutes) is avoided: the symbols are the spot markets
whose base *and* quote the account ever held, deposited, withdrew or traded (its balances, its
snapshots and its imported records). Each symbol is read oldest first with ``fromId`` (pages of
1000), so the whole history is read, not just Binance's 24 h window; later syncs read only the
ids after the last one stored. A round trip through an asset the account never held at a sync,
never deposited and never withdrew is not found: import it from Binance's CSV export.

**Deposits and withdrawals** (``/sapi/v1/capital/deposit/hisrec``, ``.../withdraw/history``) are
served 90 days at a time: the first import walks back in 90-day windows to July 2017 (Binance's
launch), later ones walk forward from the last import. Withdrawal times are UTC strings.
Binance has no spot ledger (ccxt's ``fetch_ledger`` is NotSupported).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from keyfolio.domain.assets import AssetMap
from keyfolio.domain.history import HistoryKind, Trade, TradeSide, Transfer, TransferKind
from keyfolio.errors import ExchangeResponseError
from keyfolio.exchanges.history import (
    HistoryContext,
    HistoryRecord,
    HistoryStream,
    IdWalk,
    WindowWalk,
    at_ms,
)
from keyfolio.exchanges.raw_fields import RawFields

if TYPE_CHECKING:
    from keyfolio.exchanges.binance import BinanceConnector

__all__ = [
    "LAUNCH_MS",
    "binance_streams",
    "deposit_from_binance",
    "trade_from_binance",
    "withdrawal_from_binance",
]

LAUNCH_MS = 1_499_990_400_000  # 2017-07-14T00:00:00Z, Binance's first day
_WINDOW_MS = 90 * 86_400_000
_TRADES_PAGE = 1000
_TRANSFER_PAGE = 1000
_DEPOSIT_STATUS = {0: "pending", 6: "ok", 8: "pending", 1: "ok", 2: "failed", 7: "failed"}
_WITHDRAWAL_STATUS = {0: "pending", 1: "canceled", 2: "pending", 3: "failed", 4: "pending",
                      5: "failed", 6: "ok"}  # fmt: skip


_RAW = RawFields("Binance", ints_as_text=True)
_text = _RAW.text
_decimal = _RAW.decimal


def _ms(row: Mapping[str, Any], name: str, what: str) -> int:
    value = row.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExchangeResponseError(f"Binance {what}: {name} is not a time in ms: {value!r}.")
    return value


def trade_from_binance(
    account: str, row: Mapping[str, Any], base: str, quote: str, assets: AssetMap
) -> tuple[int, Trade]:
    """One ``myTrades`` row as (id, Trade); the commission is paid in ``commissionAsset``."""
    what = "trades"
    trade_id = int(_text(row, "id", what))
    symbol = _text(row, "symbol", what)
    return trade_id, Trade(
        account=account,
        trade_id=f"{symbol}:{trade_id}",
        at=at_ms(_ms(row, "time", what)),
        base=base,
        quote=quote,
        side=TradeSide.BUY if row.get("isBuyer") is True else TradeSide.SELL,
        amount=_decimal(row, "qty", what),
        price=_decimal(row, "price", what),
        fee=_decimal(row, "commission", what),
        fee_asset=assets.asset(_text(row, "commissionAsset", what)),
        inst_type="SPOT",
        order_id=_text(row, "orderId", what),
    )


def deposit_from_binance(account: str, row: Mapping[str, Any], assets: AssetMap) -> Transfer:
    """One ``deposit/hisrec`` row."""
    what = "deposits"
    status = row.get("status")
    return Transfer(
        account=account,
        transfer_id=_text(row, "id", what),
        at=at_ms(_ms(row, "insertTime", what)),
        kind=TransferKind.DEPOSIT,
        asset=assets.asset(_text(row, "coin", what)),
        amount=_decimal(row, "amount", what),
        txid=str(row.get("txId") or "") or None,
        status=_DEPOSIT_STATUS.get(status if isinstance(status, int) else -1, "pending"),
    )


def _utc_ms(text: str, what: str) -> int:
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise ExchangeResponseError(f"Binance {what}: unreadable time {text!r}.") from None
    return int(moment.timestamp() * 1000)


def withdrawal_from_binance(account: str, row: Mapping[str, Any], assets: AssetMap) -> Transfer:
    """One ``withdraw/history`` row; ``transactionFee`` is paid on top of ``amount``."""
    what = "withdrawals"
    status = row.get("status")
    return Transfer(
        account=account,
        transfer_id=_text(row, "id", what),
        at=at_ms(_utc_ms(_text(row, "applyTime", what), what)),
        kind=TransferKind.WITHDRAWAL,
        asset=assets.asset(_text(row, "coin", what)),
        amount=_decimal(row, "amount", what),
        fee=_decimal(row, "transactionFee", what),
        txid=str(row.get("txId") or "") or None,
        status=_WITHDRAWAL_STATUS.get(status if isinstance(status, int) else -1, "pending"),
    )


def _rows(data: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(row, Mapping) for row in data):
        raise ExchangeResponseError(f"Binance {what}: expected a list of objects.")
    return list(data)


def _trades(connector: BinanceConnector, market: Mapping[str, Any]) -> IdWalk:
    assets = connector.assets
    base, quote = assets.asset(market["baseId"]), assets.asset(market["quoteId"])
    symbol = str(market["id"])

    async def fetch(from_id: int, limit: int) -> list[tuple[int, HistoryRecord]]:
        data = await connector.call(
            "privateGetMyTrades",
            {"symbol": symbol, "fromId": from_id, "limit": limit},
            what=f"trades of {symbol}",
        )
        pairs: list[tuple[int, HistoryRecord]] = [
            trade_from_binance(connector.spec.name, row, base, quote, assets)
            for row in _rows(data, "trades")
        ]
        return pairs

    return IdWalk(f"trades:{symbol}", HistoryKind.TRADES, fetch, _TRADES_PAGE)


def _transfers(connector: BinanceConnector, kind: HistoryKind) -> WindowWalk:
    deposits = kind is HistoryKind.DEPOSITS
    method = "sapiGetCapitalDepositHisrec" if deposits else "sapiGetCapitalWithdrawHistory"
    what = "deposits" if deposits else "withdrawals"

    async def fetch(start: int, end: int, page: Any) -> tuple[list[HistoryRecord], Any]:
        offset = int(page or 0)
        data = await connector.call(
            method,
            {"startTime": start, "endTime": end, "offset": offset, "limit": _TRANSFER_PAGE},
            what=what,
        )
        rows = _rows(data, what)
        assets = connector.assets
        name = connector.spec.name
        parse = deposit_from_binance if deposits else withdrawal_from_binance
        records: list[HistoryRecord] = [parse(name, row, assets) for row in rows]
        return records, (offset + len(rows) if len(rows) >= _TRANSFER_PAGE else None)

    # Withdrawal history weighs 18,000 of the 180,000 per minute a UID may use: the first
    # walk back to 2017 takes 8 windows a run, at most one run a minute.
    budget, pause = (None, 0.0) if deposits else (8, 60.0)
    return WindowWalk(
        what, kind, fetch, width_ms=_WINDOW_MS, floor_ms=LAUNCH_MS, pages_per_run=budget,
        pause_s=pause,
    )  # fmt: skip


async def binance_streams(
    connector: BinanceConnector, context: HistoryContext
) -> list[HistoryStream]:
    """Deposits, withdrawals, and trades of every spot market the account's assets make."""
    await connector.load_markets()
    assets = connector.assets
    wanted = set(context.assets)
    markets = [
        market
        for market in (connector._client().markets or {}).values()
        if market.get("spot")
        and assets.asset(str(market.get("baseId"))) in wanted
        and assets.asset(str(market.get("quoteId"))) in wanted
    ]
    markets.sort(key=lambda market: str(market["id"]))
    streams: list[HistoryStream] = [
        _transfers(connector, HistoryKind.DEPOSITS),
        _transfers(connector, HistoryKind.WITHDRAWALS),
    ]
    return streams + [_trades(connector, market) for market in markets]
