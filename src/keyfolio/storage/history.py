"""``HistoryRepo``: imported trades, transfers, ledger entries and their import cursors.

Lives inside one ``Store`` transaction (``store.history``) and never commits. Writes are
insert-or-ignore on each record's unique key, so replaying a page adds nothing; they return
how many records were new. Nothing of SQLAlchemy leaves this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from keyfolio.domain.history import (
    CONTENT_ID_PREFIX,
    LedgerEntry,
    Trade,
    TradeSide,
    Transfer,
    TransferKind,
)
from keyfolio.errors import NotFoundError, StorageError
from keyfolio.storage._errors import translated
from keyfolio.storage._lookup import account_ids
from keyfolio.storage._types import as_utc, to_text
from keyfolio.storage.tables import ASSET_LENGTH, AccountRow
from keyfolio.storage.tables_history import (
    ID_LENGTH,
    ImportCursorRow,
    LedgerEntryRow,
    TradeRow,
    TransferRow,
)

__all__ = ["HistoryRepo"]

logger = logging.getLogger(__name__)

_CHUNK = 400

Record = TypeVar("Record", Trade, Transfer, LedgerEntry)
RowT = TypeVar("RowT", TradeRow, TransferRow, LedgerEntryRow)

_FIELDS: dict[object, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls) if f.name != "account")
    for cls in (Trade, Transfer, LedgerEntry)
}
"""The fields of each history record a row stores in the column of the same name."""


def _row(table: Callable[..., RowT], record: Record, account_id: int, **typed: Any) -> RowT:
    """The row of a history record: each column from the record's field of the same name
    (``typed`` overrides, e.g. an enum stored as its value); ``at`` in UTC."""
    values = {name: getattr(record, name) for name in _FIELDS[type(record)]}
    return table(account_id=account_id, **{**values, "at": as_utc(record.at), **typed})


def _record(cls: Callable[..., Record], row: Any, account: str, **typed: Any) -> Record:
    """The history record of a row: each field from the row's column of the same name."""
    values = {name: getattr(row, name) for name in _FIELDS[cls]}
    return cls(account=account, **{**values, **typed})


def _check_text(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ValueError(f"{field}: {value!r} must be a non-empty string of at most {limit}")
    return value


def _content_key(account_id: int, trade: Trade | TradeRow) -> tuple[Any, ...]:
    """What identifies a fill without an id: pair, side, amount, price and its second."""
    at = as_utc(trade.at).replace(microsecond=0)
    side = TradeSide(trade.side).value
    return (account_id, trade.base, trade.quote, side, trade.amount, trade.price, at)


def _check_trade(trade: Trade) -> None:
    _check_text(trade.trade_id, "trade_id", ID_LENGTH)
    _check_text(trade.base, "base", ASSET_LENGTH)
    _check_text(trade.quote, "quote", ASSET_LENGTH)
    TradeSide(trade.side)
    as_utc(trade.at, field=f"trade {trade.trade_id} at")
    for name in ("amount", "price", "fee"):
        to_text(getattr(trade, name), field=f"trade {trade.trade_id} {name}")


def _check_transfer(transfer: Transfer) -> None:
    _check_text(transfer.transfer_id, "transfer_id", ID_LENGTH)
    _check_text(transfer.asset, "asset", ASSET_LENGTH)
    TransferKind(transfer.kind)
    as_utc(transfer.at, field=f"transfer {transfer.transfer_id} at")
    to_text(transfer.amount, field=f"transfer {transfer.transfer_id} amount")
    to_text(transfer.fee, field=f"transfer {transfer.transfer_id} fee")


def _check_entry(entry: LedgerEntry) -> None:
    _check_text(entry.entry_id, "entry_id", ID_LENGTH)
    _check_text(entry.asset, "asset", ASSET_LENGTH)
    _check_text(entry.source, "source", 32)
    as_utc(entry.at, field=f"ledger entry {entry.entry_id} at")
    to_text(entry.change, field=f"ledger entry {entry.entry_id} change")
    if entry.balance_after is not None:
        to_text(entry.balance_after, field=f"ledger entry {entry.entry_id} balance_after")


class HistoryRepo:
    """Reads and writes of the history tables inside one transaction (``store.history``)."""

    def __init__(self, session: Session, *, where: str) -> None:
        self._session = session
        self._where = where

    # -- helpers ------------------------------------------------------------------------

    def _account_ids(self, names: Iterable[str]) -> dict[str, int]:
        return account_ids(self._session, names)

    def _account_id(self, name: str) -> int:
        return self._account_ids([name])[name]

    def _names(self) -> dict[int, str]:
        rows = self._session.execute(select(AccountRow.id, AccountRow.name))
        return {row[0]: row[1] for row in rows}

    @staticmethod
    def _filter(query: Select[Any], column: Any, ids: Iterable[int] | None) -> Select[Any]:
        return query if ids is None else query.where(column.in_(sorted(set(ids))))

    def _ids_for(self, accounts: Sequence[str] | None) -> list[int] | None:
        if accounts is None:
            return None
        return list(self._account_ids(accounts).values())

    def _existing(self, query: Executable) -> set[tuple[Any, ...]]:
        return {tuple(row) for row in self._session.execute(query)}

    def _chunks(
        self, records: Iterable[Record], check: Callable[[Record], None]
    ) -> tuple[dict[str, int], list[list[Record]]]:
        """Every record checked (before anything is written), their accounts' ids, and the
        records in chunks of at most ``_CHUNK``."""
        items = list(records)
        for item in items:
            check(item)
        ids = self._account_ids(item.account for item in items) if items else {}
        return ids, [items[start : start + _CHUNK] for start in range(0, len(items), _CHUNK)]

    def _rows(
        self, table: type[RowT], accounts: Sequence[str] | None, *where: Any
    ) -> tuple[dict[int, str], Iterable[RowT]]:
        """Account names by id, and the stored rows of ``table`` (of the named accounts)."""
        names = self._names()
        query = self._filter(select(table), table.account_id, self._ids_for(accounts))
        return names, self._session.scalars(query.where(*where))

    # -- writes -------------------------------------------------------------------------

    def _replace_exported(self, chunk: Sequence[Trade], ids: dict[str, int], seen: Any) -> None:
        """Drop the content-id export rows (``export:...``) that new exchange trades replace."""
        fresh = [
            t for t in chunk if t.origin == "exchange" and (ids[t.account], t.trade_id) not in seen
        ]
        if not fresh:
            return
        start = min(as_utc(t.at) for t in fresh).replace(microsecond=0)
        end = max(as_utc(t.at) for t in fresh) + timedelta(seconds=1)
        rows = self._session.scalars(
            select(TradeRow).where(
                TradeRow.account_id.in_({ids[t.account] for t in fresh}),
                TradeRow.trade_id.startswith(CONTENT_ID_PREFIX, autoescape=True),
                TradeRow.at >= start,
                TradeRow.at < end,
            )
        )
        stored: dict[tuple[Any, ...], list[TradeRow]] = {}
        for row in rows:
            stored.setdefault(_content_key(row.account_id, row), []).append(row)
        for trade in fresh:
            matches = stored.get(_content_key(ids[trade.account], trade))
            if matches:
                self._session.delete(matches.pop())
        self._session.flush()

    @translated
    def add_trades(self, trades: Iterable[Trade]) -> int:
        """Insert trades not stored yet (key: account, trade_id); returns how many were new.

        An exchange trade replaces a stored export row of the same fill that had no exchange id
        (:data:`~keyfolio.domain.history.CONTENT_ID_PREFIX`), so a fill is never counted twice.
        """
        ids, chunks = self._chunks(trades, _check_trade)
        added = 0
        for chunk in chunks:
            seen = self._existing(
                select(TradeRow.account_id, TradeRow.trade_id).where(
                    TradeRow.account_id.in_({ids[t.account] for t in chunk}),
                    TradeRow.trade_id.in_({t.trade_id for t in chunk}),
                )
            )
            self._replace_exported(chunk, ids, seen)
            for trade in chunk:
                key = (ids[trade.account], trade.trade_id)
                if key in seen:
                    continue
                seen.add(key)
                self._session.add(_row(TradeRow, trade, key[0], side=TradeSide(trade.side).value))
                added += 1
        self._session.flush()
        return added

    @translated
    def add_transfers(self, transfers: Iterable[Transfer]) -> int:
        """Insert new transfers (key: account, kind, transfer_id); returns how many were new.

        A transfer stored already gets its status, txid and fee updated (a pending deposit
        becomes successful); that does not count as new.
        """
        ids, chunks = self._chunks(transfers, _check_transfer)
        added = 0
        for chunk in chunks:
            rows = {
                (row.account_id, row.kind, row.transfer_id): row
                for row in self._session.scalars(
                    select(TransferRow).where(
                        TransferRow.account_id.in_({ids[t.account] for t in chunk}),
                        TransferRow.transfer_id.in_({t.transfer_id for t in chunk}),
                    )
                )
            }
            for transfer in chunk:
                key = (
                    ids[transfer.account],
                    TransferKind(transfer.kind).value,
                    transfer.transfer_id,
                )
                row = rows.get(key)
                if row is not None:
                    row.status, row.txid, row.fee = transfer.status, transfer.txid, transfer.fee
                    continue
                row = _row(TransferRow, transfer, key[0], kind=key[1])
                rows[key] = row
                self._session.add(row)
                added += 1
        self._session.flush()
        return added

    @translated
    def add_ledger(self, entries: Iterable[LedgerEntry]) -> int:
        """Insert new ledger entries (key: account, source, entry_id); returns how many."""
        ids, chunks = self._chunks(entries, _check_entry)
        added = 0
        for chunk in chunks:
            seen = self._existing(
                select(
                    LedgerEntryRow.account_id, LedgerEntryRow.source, LedgerEntryRow.entry_id
                ).where(
                    LedgerEntryRow.account_id.in_({ids[e.account] for e in chunk}),
                    LedgerEntryRow.entry_id.in_({e.entry_id for e in chunk}),
                )
            )
            for entry in chunk:
                key = (ids[entry.account], entry.source, entry.entry_id)
                if key in seen:
                    continue
                seen.add(key)
                self._session.add(_row(LedgerEntryRow, entry, key[0]))
                added += 1
        self._session.flush()
        return added

    @translated
    def remove_trade(self, *, account: str, trade_id: str) -> None:
        """Delete one trade. ``NotFoundError`` if the account has no trade of that id."""
        row = self._session.scalar(
            select(TradeRow).where(
                TradeRow.account_id == self._account_id(account), TradeRow.trade_id == trade_id
            )
        )
        if row is None:
            raise NotFoundError(
                f"Account {account!r} has no trade {trade_id!r}",
                hint="List trades with `keyfolio trade list --account NAME`.",
            )
        self._session.delete(row)
        self._session.flush()

    # -- cursors ------------------------------------------------------------------------

    @translated
    def assets(self, *, account: str) -> set[str]:
        """Every asset the account's trades, transfers and ledger entries name."""
        account_id = self._account_id(account)
        found: set[str] = set()
        queries = (
            select(TradeRow.base).where(TradeRow.account_id == account_id),
            select(TradeRow.quote).where(TradeRow.account_id == account_id),
            select(TransferRow.asset).where(TransferRow.account_id == account_id),
            select(LedgerEntryRow.asset).where(LedgerEntryRow.account_id == account_id),
        )
        for query in queries:
            found.update(self._session.scalars(query.distinct()))
        return found

    @translated
    def get_cursor(self, *, account: str, kind: str) -> str | None:
        """The stored cursor of one kind of history of one account, or None."""
        row = self._session.get(ImportCursorRow, (self._account_id(account), kind))
        return None if row is None else row.cursor

    @translated
    def cursor_at(self, *, account: str, kind: str) -> tuple[str, datetime] | None:
        """The stored cursor and when it was last written, or None."""
        row = self._session.get(ImportCursorRow, (self._account_id(account), kind))
        return None if row is None else (row.cursor, row.updated_at)

    @translated
    def set_cursor(self, *, account: str, kind: str, cursor: str) -> None:
        """Store (or replace) a cursor; committed with the records of the same transaction."""
        if not isinstance(cursor, str):
            raise StorageError(f"cursor of {kind} must be text", hint="This is a bug.")
        key = (self._account_id(account), kind)
        row = self._session.get(ImportCursorRow, key)
        now = datetime.now(UTC)
        if row is None:
            self._session.add(
                ImportCursorRow(account_id=key[0], kind=kind, cursor=cursor, updated_at=now)
            )
        else:
            row.cursor, row.updated_at = cursor, now
        self._session.flush()

    @translated
    def cursors(self, *, account: str) -> dict[str, str]:
        """Every cursor of one account, by kind."""
        rows = self._session.scalars(
            select(ImportCursorRow).where(ImportCursorRow.account_id == self._account_id(account))
        )
        return {row.kind: row.cursor for row in rows}

    # -- reads --------------------------------------------------------------------------

    @translated
    def trades(self, *, accounts: Sequence[str] | None = None) -> list[Trade]:
        """Stored trades (of the named accounts, or of all), sorted by (at, trade_id)."""
        names, rows = self._rows(TradeRow, accounts)
        trades = [
            _record(Trade, row, names[row.account_id], side=TradeSide(row.side)) for row in rows
        ]
        trades.sort(key=lambda t: (t.at, t.trade_id, t.account))
        return trades

    @translated
    def transfers(self, *, accounts: Sequence[str] | None = None) -> list[Transfer]:
        """Stored deposits and withdrawals, sorted by time."""
        names, rows = self._rows(TransferRow, accounts)
        transfers = [
            _record(Transfer, row, names[row.account_id], kind=TransferKind(row.kind))
            for row in rows
        ]
        transfers.sort(key=lambda t: (t.at, t.account, t.kind.value, t.transfer_id))
        return transfers

    @translated
    def ledger(
        self, *, accounts: Sequence[str] | None = None, since: datetime | None = None
    ) -> list[LedgerEntry]:
        """Stored ledger entries (at or after ``since``), sorted by time."""
        where = [] if since is None else [LedgerEntryRow.at >= as_utc(since, field="since")]
        names, rows = self._rows(LedgerEntryRow, accounts, *where)
        entries = [_record(LedgerEntry, row, names[row.account_id]) for row in rows]
        entries.sort(key=lambda e: (e.at, e.account, e.source, e.entry_id))
        return entries
