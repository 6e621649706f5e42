"""Coinbase history against the sandbox: fills, every used wallet's ledger and the transfers in
it; incremental, idempotent and resumable (the newest-first walk)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from coinbase_support import CB_READ, DAY_MS, T0, coinbase_state
from connector_support import COINBASE
from exchanges_support import control

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.history import HistoryKind, LedgerEntry, Trade, Transfer, TransferKind
from keyfolio.exchanges.coinbase import CoinbaseConnector
from keyfolio.exchanges.coinbase_history import NewestFirstWalk
from keyfolio.exchanges.history import (
    HistoryContext,
    HistoryPage,
    HistoryRecord,
    HistoryStream,
    at_ms,
)
from keyfolio.exchanges.pool import ConnectorPool
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues import parse_state

url = COINBASE.url_fixture()


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(home=tmp_path, retries=1)


async def walk(
    stream: HistoryStream, cursor: str | None = None
) -> tuple[list[Any], str | None, int]:
    """Every page of a stream from ``cursor``: its records, the last cursor, the page count."""
    records: list[Any] = []
    for pages in range(1, 100):
        page: HistoryPage = await stream.next_page(cursor)
        records += page.records
        cursor = page.cursor
        if page.done:
            return records, cursor, pages
    raise AssertionError("the walk does not end")


async def streams_of(pool: ConnectorPool, url: str, assets: set[str]) -> dict[str, HistoryStream]:
    spec = AccountSpec(exchange="coinbase", name="alice", api_url=url)
    connector = pool.connector(spec, Credentials(fields=dict(CB_READ)))
    assert isinstance(connector, CoinbaseConnector)
    found = await connector.history_streams(HistoryContext(assets=frozenset(assets)))
    return {stream.key: stream for stream in found}


async def test_fills_and_each_used_wallet_s_ledger(url: str, settings: Settings) -> None:
    async with ConnectorPool(settings) as pool:
        streams = await streams_of(pool, url, {"SOL"})
        keys = set(streams)
        assert {"trades", "ledger:BTC", "ledger:USD", "ledger:ETH", "ledger:CGLD", "ledger:ETH2",
                "ledger:ABC", "ledger:SOL"} <= keys  # fmt: skip
        assert len([k for k in keys if k.startswith("ledger:") and "-" in k]) == 1  # Staked ADA
        assert "ledger:USDT" not in keys  # never held, no balance: not read
        trades, _, _ = await walk(streams["trades"])
        eth, _, _ = await walk(streams["ledger:ETH"])
        usd, _, _ = await walk(streams["ledger:USD"])
    assert [t.amount for t in trades if isinstance(t, Trade)] == [Decimal(1)] + [Decimal("0.5")] * 3
    sold = trades[0]
    assert (sold.base, sold.quote, sold.side.value, sold.fee, sold.fee_asset) == (
        "ETH", "USD", "sell", Decimal("2"), "USD",
    )  # fmt: skip
    transfers = [r for r in eth + usd if isinstance(r, Transfer)]
    withdrawal = next(t for t in transfers if t.kind is TransferKind.WITHDRAWAL)
    assert (withdrawal.asset, withdrawal.amount, withdrawal.fee, withdrawal.txid) == (
        "ETH", Decimal("0.5"), Decimal("0.001"), "0xw1",
    )  # fmt: skip
    assert withdrawal.at == at_ms(T0 + 20 * DAY_MS)
    deposits = {(t.asset, t.amount) for t in transfers if t.kind is TransferKind.DEPOSIT}
    assert deposits == {("ETH", Decimal("1")), ("USD", Decimal("5000"))}
    ledger = [r for r in eth if isinstance(r, LedgerEntry)]
    assert [(e.kind, e.change) for e in ledger] == [
        ("send", Decimal("-0.501")), ("advanced_trade_fill", Decimal("-1")), ("send", Decimal("1")),
    ]  # fmt: skip


async def test_a_second_import_reads_one_page_and_only_what_is_new(
    url: str, settings: Settings
) -> None:
    async with ConnectorPool(settings) as pool:
        streams = await streams_of(pool, url, set())
        _, fills_cursor, _ = await walk(streams["trades"])
        _, usd_cursor, _ = await walk(streams["ledger:USD"])
        await control(url, "trade", {"account": "alice", "symbol": "BTC-USD", "side": "buy",
                                     "amount": "0.001"})  # fmt: skip
        await control(url, "reset-log", {})
        fills, _, pages = await walk(streams["trades"], fills_cursor)
        usd, _, _ = await walk(streams["ledger:USD"], usd_cursor)
        log = await control(url, "requests")
    assert pages == 1  # the new fill, and the newest stored one again (a minute of overlap)
    assert [t.amount for t in fills] == [Decimal("0.001"), Decimal("1")]
    assert "start_sequence_timestamp=" in log[0]["path"]  # only from the last fill on
    new, again = [e for e in usd if isinstance(e, LedgerEntry)]  # again: the minute of overlap
    assert (new.change, again.at) == (Decimal("-60.000"), at_ms(T0 + 10 * DAY_MS))
    assert sum("/transactions" in entry["path"] for entry in log) == 1


async def test_a_pending_deposit_holds_the_mark_below_it(settings: Settings) -> None:
    state = coinbase_state()
    pending = {"id": "d9", "asset": "ETH", "amount": "3", "txid": "0xd9", "status": "pending",
               "ts": T0 + 30 * DAY_MS}  # fmt: skip
    state["accounts"]["alice"]["deposits"].append(pending)
    async with run_sandbox(parse_state(state), rate_limit=False) as base:
        async with ConnectorPool(settings) as pool:
            streams = await streams_of(pool, base, set())
            records, cursor, _ = await walk(streams["ledger:ETH"])
    [held] = [r for r in records if isinstance(r, Transfer) and r.status == "pending"]
    assert held.amount == Decimal("3")
    assert json.loads(cursor or "{}") == {"done": T0 + 30 * DAY_MS - 1}  # read again next time


# -- the walk itself, on a list it can page through ---------------------------------------------


class Listing:
    """A newest-first list served ``size`` at a time by an offset token (as Coinbase's cursor)."""

    def __init__(self, stamps: list[int], size: int = 2) -> None:
        self.stamps = sorted(stamps, reverse=True)
        self.size = size
        self.calls: list[tuple[str | None, int | None]] = []

    def add(self, stamp: int) -> None:
        self.stamps = sorted([*self.stamps, stamp], reverse=True)

    async def fetch(
        self, token: str | None, since: int | None
    ) -> tuple[list[tuple[int, HistoryRecord]], Any]:
        self.calls.append((token, since))
        start = int(token or 0)
        page = self.stamps[start : start + self.size]
        records: list[tuple[int, HistoryRecord]] = [(ms, _entry(ms)) for ms in page]
        more = start + len(page) < len(self.stamps)
        return records, (str(start + len(page)) if more else None)


def _entry(ms: int) -> LedgerEntry:
    return LedgerEntry(
        account="a", entry_id=str(ms), at=at_ms(ms), asset="BTC", change=Decimal(1),
        balance_after=None, kind="send", source="trading",
    )  # fmt: skip


async def test_the_walk_resumes_where_it_stopped_and_misses_nothing_that_arrives() -> None:
    listing = Listing([1_000_000 + n * 100_000 for n in range(5)])
    stream = NewestFirstWalk("ledger:BTC", HistoryKind.LEDGER, listing.fetch)
    first = await stream.next_page(None)  # the process stops after this page
    assert not first.done
    listing.add(2_000_000)  # a newer row arrives meanwhile: the offsets shift by one
    seen = {r.entry_id for r in first.records if isinstance(r, LedgerEntry)}
    records, cursor, _ = await walk(stream, first.cursor)
    seen |= {r.entry_id for r in records if isinstance(r, LedgerEntry)}
    assert {str(1_000_000 + n * 100_000) for n in range(5)} <= seen  # nothing of the old lost
    assert json.loads(cursor or "{}") == {"done": 1_400_000}
    listing.calls.clear()
    newer, last, pages = await walk(stream, cursor)  # the next import finds the late arrival
    assert [r.entry_id for r in newer if isinstance(r, LedgerEntry)][0] == "2000000"
    assert pages == 2  # down to the first row older than the mark, not the whole list
    assert listing.calls[0] == (None, 1_400_000 - 60_000)
    assert json.loads(last or "{}") == {"done": 2_000_000}
