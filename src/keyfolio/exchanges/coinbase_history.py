"""Coinbase history: Advanced Trade fills, and each wallet's Coinbase App transactions.

**Trades** come from ``GET /api/v3/brokerage/orders/historical/fills`` (every product at once,
newest first, ``cursor`` paging, 100 a page). Coinbase documents no history window: the first
import reads every page; later ones ask only from a minute before the newest fill stored
(``start_sequence_timestamp``). Fills cover Advanced Trade orders only.

**Ledger, deposits and withdrawals** come from ``GET /v2/accounts/{id}/transactions`` (per
wallet, newest first, ``starting_after`` paging, 100 a page). Every row is a ledger entry (its
``type``: ``send``, ``advanced_trade_fill``, ``buy``, ``sell``, ``trade`` (a convert),
``staking_reward``, ...); a ``send`` with a positive amount is also a deposit and one with a
negative amount a withdrawal (its ``network.transaction_amount`` is what was sent, the network
fee comes on top), as are ``fiat_deposit`` and ``fiat_withdrawal``. The first import reads each
wallet's whole list; later ones read down to a minute before the newest row stored. A transfer
still pending holds that mark, so it is read again until it settles. The wallets read are
those with a balance and those of assets the account ever held, deposited, withdrew or traded
(a wallet that was filled and emptied between two syncs of an asset never seen otherwise is
not found: import it from Coinbase's statement with ``keyfolio import csv``).

Simple Buy/Sell, converts and rewards are in the ledger only (their prices are not fills).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from keyfolio.domain.assets import AssetMap
from keyfolio.domain.history import (
    HistoryKind,
    LedgerEntry,
    Trade,
    TradeSide,
    Transfer,
    TransferKind,
)
from keyfolio.domain.money import divide, parse_decimal
from keyfolio.errors import ExchangeResponseError
from keyfolio.exchanges.history import (
    HistoryContext,
    HistoryPage,
    HistoryRecord,
    HistoryStream,
    at_ms,
    load_cursor,
)
from keyfolio.exchanges.raw_fields import RawFields

if TYPE_CHECKING:
    from keyfolio.exchanges.coinbase import CoinbaseConnector

__all__ = [
    "NewestFirstWalk",
    "coinbase_streams",
    "rfc3339_ms",
    "trade_from_coinbase",
    "transaction_from_coinbase",
]

_PAGE = 100
_OVERLAP_MS = 60_000
_DONE = frozenset({"completed"})
_FAILED = frozenset({"failed", "canceled", "cancelled", "expired"})

Fetch = Callable[[str | None, int | None], Awaitable[tuple[list[tuple[int, HistoryRecord]], Any]]]
"""``fetch(page token, since_ms)`` -> ((ms, record) pairs newest first, next token or None)."""


def _pending(record: HistoryRecord) -> bool:
    return isinstance(record, Transfer) and record.status == "pending"


@dataclass(eq=False)
class NewestFirstWalk(HistoryStream):
    """A list served newest first with a page token, walked down to what is stored.

    The cursor is ``{"done": ms}`` (everything up to it is stored) plus, during a walk,
    ``{"walk": {"token", "top", "hold"}}``: the next page's token, the newest time seen in this
    walk, and the oldest transfer still pending. A walk ends at the list's end or at a record
    older than ``done`` minus ``overlap_ms``; ``done`` then becomes ``top`` (held below a
    pending transfer, so that one is read again).
    """

    key: str
    kind: HistoryKind
    fetch: Fetch
    overlap_ms: int = _OVERLAP_MS

    async def next_page(self, cursor: str | None) -> HistoryPage:
        state = load_cursor(cursor)
        done = state.get("done")
        walk = state.get("walk")
        if not isinstance(walk, dict):
            walk = {"token": None, "top": None, "hold": None}
        since = None if not isinstance(done, int) else max(0, done - self.overlap_ms)
        pairs, token = await self.fetch(walk["token"], since)
        stamps = [ms for ms, _ in pairs]
        if stamps:
            walk["top"] = max([*stamps, *([walk["top"]] if walk["top"] is not None else [])])
        held = [ms for ms, record in pairs if _pending(record)]
        if held:
            walk["hold"] = min([*held, *([walk["hold"]] if walk["hold"] is not None else [])])
        # Rows older than the mark (less the overlap) are stored already: not handed on.
        records = [record for ms, record in pairs if since is None or ms >= since]
        reached = since is not None and bool(stamps) and min(stamps) < since
        if token is not None and pairs and not reached:
            walk["token"] = token
            return HistoryPage(records, json.dumps({**state, "walk": walk}), done=False)
        top = walk["top"] if walk["top"] is not None else done
        if top is None:
            return HistoryPage(records, json.dumps({}), done=True)  # nothing yet
        mark = int(top) if walk["hold"] is None else min(int(top), int(walk["hold"]) - 1)
        return HistoryPage(records, json.dumps({"done": mark}), done=True)


# -- parsing ------------------------------------------------------------------------------------


def rfc3339_ms(text: Any, what: str) -> int:
    """Milliseconds of an RFC 3339 time (``...T09:59:59.123456789Z``, ``...T13:50:09Z``)."""
    if not isinstance(text, str) or not text:
        raise ExchangeResponseError(f"Coinbase {what}: a record has no time ({text!r}).")
    head, dot, tail = text.strip().removesuffix("Z").partition(".")
    digits = tail.split("+")[0].split("-")[0]
    try:
        moment = datetime.fromisoformat(head)
        micros = int((digits + "000000")[:6]) if dot else 0
    except ValueError:
        raise ExchangeResponseError(f"Coinbase {what}: unreadable time {text!r}.") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return int(moment.timestamp()) * 1000 + micros // 1000


_RAW = RawFields("Coinbase")
_text = _RAW.text
_decimal = _RAW.amount


def _money(row: Mapping[str, Any], name: str, what: str) -> tuple[Decimal, str]:
    value = row.get(name)
    if not isinstance(value, Mapping):
        raise ExchangeResponseError(f"Coinbase {what}: a record has no {name!r}.")
    return _decimal(value.get("amount"), name, what), _text(value, "currency", what)


def trade_from_coinbase(
    account: str, row: Mapping[str, Any], assets: AssetMap
) -> tuple[int, Trade]:
    """One fill as (ms, Trade). The commission is paid in the quote currency; a size given in
    the quote (``size_in_quote``) is turned into base units at the fill's price."""
    what = "fills"
    product = _text(row, "product_id", what)
    base, _, quote = product.partition("-")
    side = row.get("side")
    if side not in ("BUY", "SELL") or not quote:
        raise ExchangeResponseError(f"Coinbase fills: unreadable fill of {product!r} ({side!r}).")
    price = _decimal(row.get("price"), "price", what)
    size = _decimal(row.get("size"), "size", what)
    if row.get("size_in_quote") is True and price:
        size = divide(size, price, quantum=Decimal("1e-18"))
    ms = rfc3339_ms(row.get("trade_time"), what)
    trade_id = row.get("entry_id") or _text(row, "trade_id", what)
    return ms, Trade(
        account=account,
        trade_id=str(trade_id),
        at=at_ms(ms),
        base=assets.asset(base),
        quote=assets.asset(quote),
        side=TradeSide.BUY if side == "BUY" else TradeSide.SELL,
        amount=size,
        price=price,
        fee=_decimal(row.get("commission", "0"), "commission", what),
        fee_asset=assets.asset(quote),
        inst_type="SPOT",
        order_id=str(row.get("order_id") or "") or None,
    )


def _status(row: Mapping[str, Any]) -> str:
    status = str(row.get("status") or "")
    return "ok" if status in _DONE else "failed" if status in _FAILED else "pending"


def _transfer(
    account: str, row: Mapping[str, Any], kind: str, amount: Decimal, asset: str, ms: int
) -> Transfer | None:
    """The deposit or withdrawal a transaction row is, if it is one."""
    network = row.get("network") if isinstance(row.get("network"), Mapping) else {}
    assert isinstance(network, Mapping)
    if kind == "send":
        direction = TransferKind.DEPOSIT if amount > 0 else TransferKind.WITHDRAWAL
    elif kind in ("fiat_deposit", "fiat_withdrawal"):
        direction = TransferKind.DEPOSIT if kind == "fiat_deposit" else TransferKind.WITHDRAWAL
    else:
        return None
    sent, fee = abs(amount), Decimal(0)
    if direction is TransferKind.WITHDRAWAL:
        fee_value = network.get("transaction_fee")
        if isinstance(fee_value, Mapping) and fee_value.get("currency") == asset:
            fee = _decimal(fee_value.get("amount"), "transaction_fee", "transactions")
        sent_value = network.get("transaction_amount")
        if isinstance(sent_value, Mapping) and sent_value.get("currency") == asset:
            sent = _decimal(sent_value.get("amount"), "transaction_amount", "transactions")
        else:
            sent = abs(amount) - fee  # the debit is what was sent plus the network fee
    return Transfer(
        account=account,
        transfer_id=_text(row, "id", "transactions"),
        at=at_ms(ms),
        kind=direction,
        asset=asset,
        amount=sent,
        fee=fee,
        txid=str(network.get("hash") or "") or None,
        status=_status(row),
    )


def transaction_from_coinbase(
    account: str, row: Mapping[str, Any], assets: AssetMap, *, source: str
) -> tuple[int, list[HistoryRecord]]:
    """One ``/v2`` transaction as (ms, [its ledger entry, and the transfer it is if any])."""
    what = "transactions"
    kind = _text(row, "type", what)
    amount, code = _money(row, "amount", what)
    ms = rfc3339_ms(row.get("created_at"), what)
    asset = assets.asset(code)
    network = row.get("network")
    fill = row.get("advanced_trade_fill")
    reference = (
        str(network.get("hash") or "") if isinstance(network, Mapping)
        else str(fill.get("order_id") or "") if isinstance(fill, Mapping) else ""
    )  # fmt: skip
    records: list[HistoryRecord] = [
        LedgerEntry(
            account=account,
            entry_id=_text(row, "id", what),
            at=at_ms(ms),
            asset=asset,
            change=amount,
            balance_after=None,
            kind=kind,
            source=source,
            reference=reference or None,
        )
    ]
    transfer = _transfer(account, row, kind, amount, asset, ms)
    if transfer is not None:
        records.append(transfer)
    return ms, records


# -- streams ------------------------------------------------------------------------------------


def _rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fills(connector: CoinbaseConnector) -> NewestFirstWalk:
    async def fetch(
        token: str | None, since: int | None
    ) -> tuple[list[tuple[int, HistoryRecord]], Any]:
        params: dict[str, Any] = {"limit": _PAGE}
        if token:
            params["cursor"] = token
        if since is not None:
            params["start_sequence_timestamp"] = _rfc3339(since)
        data = await connector.call("v3PrivateGetBrokerageOrdersHistoricalFills", params,
                                    what="fills")  # fmt: skip
        rows = data.get("fills") if isinstance(data, Mapping) else None
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            raise ExchangeResponseError("Coinbase fills: expected a list of objects in 'fills'.")
        assets, name = connector.assets, connector.spec.name
        pairs: list[tuple[int, HistoryRecord]] = [
            trade_from_coinbase(name, row, assets) for row in rows
        ]
        following = data.get("cursor")
        return pairs, (following if isinstance(following, str) and following and rows else None)

    return NewestFirstWalk("trades", HistoryKind.TRADES, fetch)


def _ledger(connector: CoinbaseConnector, wallet: Mapping[str, Any], key: str) -> NewestFirstWalk:
    wallet_id = str(wallet["id"])
    source = "staked" if str(wallet.get("name", "")).startswith("Staked ") else "trading"

    async def fetch(
        token: str | None, since: int | None
    ) -> tuple[list[tuple[int, HistoryRecord]], Any]:
        params: dict[str, Any] = {"account_id": wallet_id, "limit": _PAGE, "order": "desc"}
        if token:
            params["starting_after"] = token
        data = await connector.call("v2PrivateGetAccountsAccountIdTransactions", params,
                                    what=f"transactions of {key}")  # fmt: skip
        rows = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            raise ExchangeResponseError("Coinbase transactions: expected a list in 'data'.")
        assets, name = connector.assets, connector.spec.name
        pairs: list[tuple[int, HistoryRecord]] = []
        for row in rows:
            ms, records = transaction_from_coinbase(name, row, assets, source=source)
            pairs += [(ms, record) for record in records]
        paging = data.get("pagination")
        after = paging.get("next_starting_after") if isinstance(paging, Mapping) else None
        return pairs, (after if isinstance(after, str) and after and rows else None)

    return NewestFirstWalk(key, HistoryKind.LEDGER, fetch)


def _wanted(wallet: Mapping[str, Any], assets: AssetMap, held: frozenset[str]) -> bool:
    currency = wallet.get("currency")
    code = currency.get("code") if isinstance(currency, Mapping) else currency
    balance = wallet.get("balance")
    amount = balance.get("amount") if isinstance(balance, Mapping) else None
    try:
        non_zero = isinstance(amount, str) and parse_decimal(amount) != 0
    except ValueError:
        non_zero = True  # unreadable: read its history rather than miss it
    return isinstance(code, str) and (non_zero or assets.asset(code) in held)


async def coinbase_streams(
    connector: CoinbaseConnector, context: HistoryContext
) -> list[HistoryStream]:
    """The fills, and the ledger of every wallet with a balance or of an asset ever used."""
    assets = connector.assets
    streams: list[HistoryStream] = [_fills(connector)]
    for wallet in await connector.v2_accounts():
        if not isinstance(wallet.get("id"), str) or not _wanted(wallet, assets, context.assets):
            continue
        currency = wallet.get("currency")
        code = currency.get("code") if isinstance(currency, Mapping) else currency
        key = f"ledger:{code}" if wallet.get("primary") is True else f"ledger:{wallet['id']}"
        streams.append(_ledger(connector, wallet, key))
    return streams
