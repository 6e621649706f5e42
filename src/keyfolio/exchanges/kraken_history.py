"""Kraken history: trades (``TradesHistory``) and the ledger (``Ledgers``), with the deposits and
withdrawals the ledger records, read from Kraken's raw strings.

Both endpoints answer 50 records a page, newest first, with ``count`` (every match): ``ofs``
skips records, ``start`` (exclusive) and ``end`` (inclusive) bound the time. :class:`OffsetWalk`
reads them so that an import can stop anywhere and resume:

* A walk's first page is asked for without ``end``; its newest record's time becomes the walk's
  ``end`` for every later page, so records arriving meanwhile do not shift the offsets.
* The cursor stores ``end`` and ``ofs`` after every page (with the page, in one transaction).
* When ``ofs`` reaches ``count`` the walk is done and ``end`` becomes the mark: the next import
  asks from ``mark - 10 minutes`` (records are keyed by their ids, so the overlap adds nothing).
* The first import walks the whole history (Kraken keeps it all); each run reads at most
  :data:`PAGES_PER_RUN` pages per stream (Kraken's call counter: 2 a page) and the walk goes on
  at the next sync.

Deposits and withdrawals come from the ledger's ``deposit`` and ``withdrawal`` entries, so they
are complete and counted once (``DepositStatus`` and ``WithdrawStatus`` only list recent ones);
their ``refid`` is the transfer id. Each page's transfers get their chain txid from one
``DepositStatus`` / ``WithdrawStatus`` call over the page's time range, where Kraken still lists
them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from keyfolio.domain.history import (
    HistoryKind,
    LedgerEntry,
    Trade,
    TradeSide,
    Transfer,
    TransferKind,
)
from keyfolio.errors import ExchangeAuthError, ExchangeError, ExchangeResponseError
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
    from keyfolio.exchanges.kraken import KrakenConnector

__all__ = [
    "OVERLAP_S",
    "PAGES_PER_RUN",
    "OffsetWalk",
    "kraken_streams",
    "ledger_records",
    "trade_from_kraken",
]

logger = logging.getLogger(__name__)

PAGES_PER_RUN = 10
OVERLAP_S = 600

Rows = dict[str, Mapping[str, Any]]
OffsetFetch = Callable[[str | None, str | None, int], Awaitable[tuple[Rows, int]]]
"""``fetch(start, end, ofs)`` -> (records by id, newest first; ``count``)."""


_RAW = RawFields("Kraken")
_text = _RAW.text
_decimal = _RAW.decimal


def _time(row: Mapping[str, Any], what: str) -> str:
    """A record's time as Kraken wrote it (unix seconds, maybe with decimals), exactly."""
    value = row.get("time")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ExchangeResponseError(f"Kraken {what}: a record has no time ({value!r}).")
    text = repr(value) if isinstance(value, float) else str(value)
    try:
        Decimal(text)
    except ArithmeticError:
        raise ExchangeResponseError(f"Kraken {what}: unreadable time {value!r}.") from None
    return text


def _ms(seconds: str) -> int:
    return int(Decimal(seconds) * 1000)


@dataclass(eq=False)
class OffsetWalk(HistoryStream):
    """Newest-first pages by ``ofs`` under a pinned ``end`` (see the module docstring).

    ``parse(rows)`` turns a page's records (by id) into keyfolio records.
    """

    key: str
    kind: HistoryKind
    fetch: OffsetFetch
    parse: Callable[[Rows], Awaitable[list[HistoryRecord]]]
    pages_per_run: int | None = PAGES_PER_RUN
    clock: Callable[[], float] = field(default=time.time)

    async def next_page(self, cursor: str | None) -> HistoryPage:
        state = load_cursor(cursor)
        done = state.get("done")
        walk = state.get("walk")
        if not isinstance(walk, dict):
            start = None if done is None else str(max(0, int(Decimal(str(done))) - OVERLAP_S))
            walk = {"start": start, "end": None, "ofs": 0}
        rows, count = await self.fetch(walk["start"], walk["end"], int(walk["ofs"]))
        records = await self.parse(rows)
        if walk["end"] is None:
            times = [_time(row, self.key) for row in rows.values()]
            walk["end"] = max(times, key=Decimal) if times else None
        walk["ofs"] = int(walk["ofs"]) + len(rows)
        if rows and walk["ofs"] < count:
            return HistoryPage(records, json.dumps({**state, "walk": walk}), done=False)
        mark = walk["end"] if walk["end"] is not None else done
        if mark is None:
            mark = str(int(self.clock()) - OVERLAP_S)
        return HistoryPage(records, json.dumps({"done": mark}), done=True)


def trade_from_kraken(
    connector: KrakenConnector, txid: str, row: Mapping[str, Any], pairs: Mapping[str, Any]
) -> Trade:
    """One ``TradesHistory`` record: ``vol`` of the base at ``price``; ``fee`` in the quote."""
    what = "trades"
    pair = _text(row, "pair", what)
    codes = pairs.get(pair)
    if codes is None:
        raise ExchangeResponseError(
            f"Kraken trades: the pair {pair!r} of trade {txid} is not in Kraken's AssetPairs.",
            hint="Kraken no longer lists this pair, so its assets are unknown. Import the trade "
            "from Kraken's CSV export: `keyfolio import csv FILE --account NAME`.",
        )
    assets = connector.assets
    side = _text(row, "type", what)
    if side not in ("buy", "sell"):
        raise ExchangeResponseError(f"Kraken trades: trade {txid} has type {side!r}.")
    quote = assets.asset(codes[1])
    order = row.get("ordertxid")
    return Trade(
        account=connector.spec.name,
        trade_id=txid,
        at=at_ms(_ms(_time(row, what))),
        base=assets.asset(codes[0]),
        quote=quote,
        side=TradeSide.BUY if side == "buy" else TradeSide.SELL,
        amount=_decimal(row, "vol", what),
        price=_decimal(row, "price", what),
        fee=_decimal(row, "fee", what),
        fee_asset=quote,
        inst_type="SPOT",
        order_id=order if isinstance(order, str) else None,
    )


async def _txids(
    connector: KrakenConnector, method: str, rows: list[Mapping[str, Any]]
) -> dict[str, str]:
    """refid -> chain txid from Kraken's recent list over these records' time range."""
    if not rows:
        return {}
    times = [_ms(_time(row, "ledger")) for row in rows]
    params = {"start": str(min(times) // 1000 - 1), "end": str(max(times) // 1000 + 1)}
    try:
        data = await connector.call(method, params, what=f"{method} (txids)")
    except ExchangeAuthError:
        raise
    except ExchangeError as exc:  # the txid is a nicety: the transfer is imported without it
        logger.info("Kraken %s for txids failed: %s", method, exc.message)
        return {}
    result = data.get("result") if isinstance(data, Mapping) else None
    found: dict[str, str] = {}
    for item in result if isinstance(result, list) else []:
        if isinstance(item, Mapping):
            refid, txid = item.get("refid"), item.get("txid")
            if isinstance(refid, str) and isinstance(txid, str) and txid:
                found[refid] = txid
    return found


async def ledger_records(connector: KrakenConnector, rows: Rows) -> list[HistoryRecord]:
    """A ledger page: one :class:`LedgerEntry` per entry (in the source its asset code names),
    and a :class:`Transfer` for each deposit and withdrawal (its txid where Kraken has it)."""
    what = "ledger"
    assets = connector.assets
    name = connector.spec.name
    records: list[HistoryRecord] = []
    transfers: list[tuple[Transfer, Mapping[str, Any]]] = []
    for entry_id, row in rows.items():
        code, kind = _text(row, "asset", what), _text(row, "type", what)
        amount, fee = _decimal(row, "amount", what), _decimal(row, "fee", what)
        resolved = assets.resolve(code)
        refid = row.get("refid") if isinstance(row.get("refid"), str) else None
        at = at_ms(_ms(_time(row, what)))
        subtype = row.get("subtype")
        records.append(
            LedgerEntry(
                account=name,
                entry_id=entry_id,
                at=at,
                asset=resolved.asset,
                change=amount - fee,
                balance_after=_decimal(row, "balance", what),
                kind=f"{kind}:{subtype}" if isinstance(subtype, str) and subtype else kind,
                source=(resolved.source.value if resolved.source else "trading"),
                reference=refid,
            )
        )
        if kind in ("deposit", "withdrawal"):
            transfer = Transfer(
                account=name,
                transfer_id=refid or entry_id,
                at=at,
                kind=TransferKind.DEPOSIT if kind == "deposit" else TransferKind.WITHDRAWAL,
                asset=resolved.asset,
                amount=abs(amount),
                fee=fee,
            )
            transfers.append((transfer, row))
    for kind, method in ((TransferKind.DEPOSIT, "privatePostDepositStatus"),
                         (TransferKind.WITHDRAWAL, "privatePostWithdrawStatus")):  # fmt: skip
        chosen = [(t, row) for t, row in transfers if t.kind is kind]
        txids = await _txids(connector, method, [row for _, row in chosen])
        records += [replace(t, txid=txids.get(t.transfer_id)) for t, _ in chosen]
    return records


def _fetch(connector: KrakenConnector, method: str, field_name: str) -> OffsetFetch:
    async def fetch(start: str | None, end: str | None, ofs: int) -> tuple[Rows, int]:
        params: dict[str, Any] = {"ofs": ofs}
        if start is not None:
            params["start"] = start
        if end is not None:
            params["end"] = end
        data = await connector.call(method, params, what=field_name)
        result = data.get("result") if isinstance(data, Mapping) else None
        rows = result.get(field_name) if isinstance(result, Mapping) else None
        count = result.get("count") if isinstance(result, Mapping) else None
        if not isinstance(rows, Mapping) or not isinstance(count, int):
            raise ExchangeResponseError(f"Kraken {field_name}: expected records and a count.")
        if not all(isinstance(row, Mapping) for row in rows.values()):
            raise ExchangeResponseError(f"Kraken {field_name}: a record is not an object.")
        return dict(rows), count

    return fetch


async def kraken_streams(
    connector: KrakenConnector, context: HistoryContext
) -> list[HistoryStream]:
    """The account's two streams: every trade, and the ledger (with deposits and withdrawals)."""
    await connector.load_markets()
    pairs = connector.pair_codes()

    async def trades(rows: Rows) -> list[HistoryRecord]:
        return [trade_from_kraken(connector, txid, row, pairs) for txid, row in rows.items()]

    async def ledger(rows: Rows) -> list[HistoryRecord]:
        return await ledger_records(connector, rows)

    return [
        OffsetWalk(
            "trades",
            HistoryKind.TRADES,
            _fetch(connector, "privatePostTradesHistory", "trades"),
            trades,
        ),
        OffsetWalk(
            "ledger", HistoryKind.LEDGER, _fetch(connector, "privatePostLedgers", "ledger"), ledger
        ),
    ]
