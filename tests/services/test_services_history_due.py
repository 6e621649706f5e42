"""When a sync reads the trade records (docs/exchanges/okx.md, "When a sync reads the history").

Against the OKX sandbox, through ``sync_accounts`` as `keyfolio sync` runs it. Every case
starts from a steady account: imported, its archive walks finished, and a sync with nothing
new sending only the balance requests. Then one thing happens on the exchange (a trade, a
deposit, a withdrawal, a transfer between sources, a fee rebate); each moves a balance, so
the next sync reads every history stream and imports the record. The sandbox keeps no bill
for a transfer or a rebate, so those two assert the cause: every stream was read.

No test waits for time: the concurrency test holds a request with the sandbox's ``hold``
fault and waits for the sandbox to report it (and a second one) held.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from services_support import linked_app, okx_fields

from keyfolio.config import Settings
from keyfolio.domain.history import TransferKind
from keyfolio.exchanges.history import load_cursor
from keyfolio.exchanges.okx_archive import ARCHIVES
from keyfolio.services.context import App
from keyfolio.services.imports import CHECK_KIND, history_due
from keyfolio.services.sync import SyncReport, sync_accounts

PASSWORD = "pw-history-due-71c"
KEY = {"apiKey": "due-key-2f3a", "secret": "due-secret-PLANTED-9b8c", "passphrase": "due-pass-4d"}
T0 = (int(time.time()) - 2 * 86_400) * 1000  # two days ago: inside every OKX window
BALANCES = {
    "/api/v5/account/balance",
    "/api/v5/asset/balances",
    "/api/v5/finance/savings/balance",
    "/api/v5/finance/staking-defi/orders-active",
}
STREAM_PATHS = {
    "/api/v5/trade/fills-history",
    "/api/v5/asset/deposit-history",
    "/api/v5/asset/withdrawal-history",
    "/api/v5/account/bills-archive",
    "/api/v5/asset/bills",
}
ARCHIVE_PATHS = {"/api/v5/" + archive.path for archive in ARCHIVES}
DEPOSIT = {"ccy": "USDT", "amt": "250", "ts": str(T0 + 60_000), "depId": "9001"}
WITHDRAWAL = {"ccy": "USDT", "amt": "40", "fee": "1", "ts": str(T0 + 120_000), "wdId": "9002"}


def make_state(
    *, funding_usdt: str = "5000", deposits: int = 0, withdrawals: int = 0
) -> dict[str, Any]:
    return {
        "tickers": {"BTC-USDT": {"last": "60000"}},
        "keys": [{**KEY, "perm": "read_only", "account": "alice"}],
        "accounts": {
            "alice": {
                "trading": {"BTC": "1", "USDT": "100000"},
                "funding": {"USDT": funding_usdt},
                "fills": [
                    {
                        "instId": "BTC-USDT",
                        "side": "buy",
                        "fillPx": "60000",
                        "fillSz": "0.01",
                        "fee": "-0.00001",
                        "feeCcy": "BTC",
                        "ts": str(T0 + i * 1000),
                    }
                    for i in range(3)
                ],
                "deposits": [DEPOSIT][:deposits],
                "withdrawals": [WITHDRAWAL][:withdrawals],
            }
        },
    }


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    with SandboxThread(parse_state(make_state()), rate_limit=False) as server:
        yield server.url


async def control(url: str, method: str, path: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{url}/__sandbox__/{path}", json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()


async def signed_paths(url: str) -> list[str]:
    """The paths (without query) of the signed requests since the last log reset."""
    log = await control(url, "GET", "requests")
    return [entry["path"].split("?")[0] for entry in log if entry["key"] == KEY["apiKey"]]


async def sync(app: App) -> SyncReport:
    report = await sync_accounts(app)
    assert [o.status for o in report.outcomes] == ["ok"], report.outcomes
    assert all(item.ok for item in report.imports), [item.errors for item in report.imports]
    return report


def check_state(app: App) -> dict[str, Any]:
    with app.db().session(read_only=True) as store:
        return load_cursor(store.history.get_cursor(account="alice", kind=CHECK_KIND))


def counts(app: App) -> dict[str, int]:
    with app.db().session(read_only=True) as store:
        transfers = store.history.transfers()
        return {
            "trades": len(store.history.trades()),
            "deposits": sum(t.kind is TransferKind.DEPOSIT for t in transfers),
            "withdrawals": sum(t.kind is TransferKind.WITHDRAWAL for t in transfers),
        }


def make_app(home: Path, url: str) -> App:
    return linked_app(Settings(home=home, retries=1), PASSWORD, "okx", url, okx_fields(KEY))


@pytest.fixture
async def steady(tmp_path: Path, sandbox_url: str) -> AsyncIterator[App]:
    """An account whose history is imported and whose archive walks went as far as OKX lets
    them today (the rest of the bills archive waits for OKX's daily application limit, and
    a sync makes no request for it until then)."""
    app = make_app(tmp_path, sandbox_url)
    first = await sync(app)
    assert set(first.imports[0].unfinished) <= {"archive:bills", "archive:fills"}
    await control(sandbox_url, "POST", "okx/archives", {"ready": True})
    await sync(app)  # the prepared archives are downloaded
    assert counts(app)["trades"] == 3
    yield app
    app.close()


async def assert_nothing_new_reads_only_balances(app: App, url: str) -> None:
    await control(url, "POST", "reset-log", {})
    report = await sync(app)
    assert all(item.pages == 0 and item.total_new == 0 for item in report.imports)
    signed = await signed_paths(url)
    assert sorted(signed) == sorted(BALANCES)  # 4 signed requests: at most 5 per OKX account
    assert len(signed) <= 5


async def assert_next_sync_reads_every_stream(app: App, url: str) -> None:
    await control(url, "POST", "reset-log", {})
    checked = check_state(app)["checked_at"]
    await sync(app)
    signed = set(await signed_paths(url))
    assert STREAM_PATHS <= signed, STREAM_PATHS - signed
    assert check_state(app)["checked_at"] > checked  # a full check: its time moves on
    await assert_nothing_new_reads_only_balances(app, url)  # and then it is steady again


async def test_a_sync_with_nothing_new_sends_only_the_balance_requests(
    steady: App, sandbox_url: str
) -> None:
    await assert_nothing_new_reads_only_balances(steady, sandbox_url)
    await assert_nothing_new_reads_only_balances(steady, sandbox_url)


async def test_a_trade_is_imported_by_the_next_sync(steady: App, sandbox_url: str) -> None:
    trade = {"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": "0.5"}
    await control(sandbox_url, "POST", "trade", trade)
    await assert_next_sync_reads_every_stream(steady, sandbox_url)
    assert counts(steady)["trades"] == 4


async def test_a_deposit_is_imported_by_the_next_sync(steady: App, sandbox_url: str) -> None:
    await control(sandbox_url, "PUT", "state", make_state(funding_usdt="5250", deposits=1))
    await assert_next_sync_reads_every_stream(steady, sandbox_url)
    assert counts(steady)["deposits"] == 1


async def test_a_withdrawal_is_imported_by_the_next_sync(steady: App, sandbox_url: str) -> None:
    await control(sandbox_url, "PUT", "state", make_state(funding_usdt="4959", withdrawals=1))
    await assert_next_sync_reads_every_stream(steady, sandbox_url)
    assert counts(steady)["withdrawals"] == 1


async def test_a_transfer_between_sources_makes_the_next_sync_read_the_history(
    steady: App, sandbox_url: str
) -> None:
    for source, amount in (("trading", "99900"), ("funding", "5100")):
        body = {"account": "alice", "source": source, "asset": "USDT", "amount": amount}
        await control(sandbox_url, "POST", "balances", body)
    await assert_next_sync_reads_every_stream(steady, sandbox_url)


async def test_a_fee_rebate_makes_the_next_sync_read_the_history(
    steady: App, sandbox_url: str
) -> None:
    body = {"account": "alice", "source": "trading", "asset": "USDT", "amount": "100000.0125"}
    await control(sandbox_url, "POST", "balances", body)
    await assert_next_sync_reads_every_stream(steady, sandbox_url)


async def test_an_unfinished_walk_alone_reads_only_its_streams_and_keeps_checked_at(
    tmp_path: Path, sandbox_url: str
) -> None:
    app = make_app(tmp_path, sandbox_url)
    first = await sync(app)  # OKX is still preparing the archives: those walks are unfinished
    walks = set(first.imports[0].unfinished)
    assert walks and walks <= {"archive:bills", "archive:fills"}
    before = check_state(app)
    assert history_due(app, ["alice"]) == {"alice": frozenset(walks)}
    await control(sandbox_url, "POST", "reset-log", {})
    second = await sync(app)
    signed = await signed_paths(sandbox_url)
    assert sorted(p for p in signed if p in BALANCES) == sorted(BALANCES)
    assert set(signed) - BALANCES <= ARCHIVE_PATHS, signed  # only the walks under way
    assert [item.account for item in second.imports] == ["alice"]
    after = check_state(app)
    assert after["checked_at"] == before["checked_at"] and after["fp"] == before["fp"]
    app.close()


async def test_the_streams_of_an_account_are_read_concurrently(
    tmp_path: Path, sandbox_url: str
) -> None:
    app = make_app(tmp_path, sandbox_url)
    held_paths = ["/api/v5/asset/deposit-history", "/api/v5/asset/withdrawal-history"]
    for path in held_paths:
        await control(sandbox_url, "POST", "faults", {"path": path, "mode": "hold"})
    await control(sandbox_url, "POST", "reset-log", {})
    task = asyncio.create_task(sync_accounts(app))
    try:
        # Both streams' first requests are held at once. Read one after the other, the second
        # would only come once the first gave up (a client timeout, then a retry).
        held: list[dict[str, Any]] = []
        async with asyncio.timeout(60):  # a bound for a broken build, not a measurement
            while len(held) < 2:
                held = (await control(sandbox_url, "GET", "faults/held?wait=60"))["held"]
                if len(held) < 2:
                    await asyncio.sleep(0.01)  # poll the condition: two requests held at once
        assert sorted(h["path"].split("?")[0] for h in held) == held_paths, held
    finally:
        await control(sandbox_url, "POST", "faults/release", {})
        report = await task
    assert [o.status for o in report.outcomes] == ["ok"]
    assert all(item.ok for item in report.imports)
    signed = await signed_paths(sandbox_url)
    for path in held_paths:  # each asked once: neither waited for the other to time out
        assert signed.count(path) == 1, signed
    app.close()
