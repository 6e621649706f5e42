"""History import against the real sandbox: exact counts, incremental, idempotent, resumable.

The crash test runs the import in a subprocess, kills it (SIGKILL) while the sandbox holds its
third page request (a ``hold`` fault: two pages are committed by then, whatever the machine's
speed), and checks that a second run completes with exact counts and no duplicates.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from services_support import linked_app, okx_fields

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.history import HistoryKind, TransferKind
from keyfolio.errors import ExchangeUnsupportedError, InternalError
from keyfolio.exchanges.okx_history import WalkCursor
from keyfolio.services.context import App
from keyfolio.services.imports import import_all, import_history

PASSWORD = "pw-services-imports-5e1"
KEY = {
    "apiKey": "imp-key-1b2c",
    "secret": "imp-secret-PLANTED-3d4e",
    "passphrase": "imp-pass-5f6a",
}
T0 = (int(time.time()) - 2 * 86_400) * 1000  # two days ago: inside every API window
FILLS_HISTORY = "/api/v5/trade/fills-history"


def make_state(fills: int, deposits: int = 0, pending_deposit: bool = False) -> dict[str, Any]:
    deps: list[dict[str, Any]] = [
        {"ccy": "USDT", "amt": "10.5", "ts": str(T0 + i * 500)} for i in range(deposits)
    ]
    # three deposits at one millisecond: ts paging must not lose the ones after a page break
    deps += [{"ccy": "ETH", "amt": "0.1", "ts": str(T0 + 99)} for _ in range(3)]
    if pending_deposit:
        deps.append({"ccy": "BTC", "amt": "0.2", "ts": str(T0 + 7), "state": "0", "depId": "77"})
    return {
        "tickers": {"BTC-USDT": {"last": "60000"}},
        "keys": [{**KEY, "perm": "read_only", "account": "alice"}],
        "accounts": {
            "alice": {
                "trading": {"BTC": "1", "USDT": "100000"},
                "funding": {"USDT": "5000", "ETH": "1"},
                "fills": [
                    {
                        "instId": "BTC-USDT",
                        "side": "buy" if i % 3 else "sell",
                        "fillPx": "60000.1",
                        "fillSz": "0.001",
                        "fee": "-0.000001",
                        "feeCcy": "BTC",
                        "ts": str(T0 + i * 1000),
                    }
                    for i in range(fills)
                ],
                "deposits": deps,
                "withdrawals": [{"ccy": "USDT", "amt": "1", "fee": "0.1", "ts": str(T0 + 5)}],
            }
        },
    }


def credentials() -> Credentials:
    return Credentials(fields=okx_fields(KEY))


def make_app(home: Path, url: str | None = None) -> App:
    settings = Settings(home=home, retries=1)
    if url is None:
        return App(settings=settings, password=lambda **_: PASSWORD)
    return linked_app(settings, PASSWORD, "okx", url, okx_fields(KEY))


@pytest.fixture
def sandbox_factory() -> Iterator[Any]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    started: list[SandboxThread] = []

    def start(state: dict[str, Any], **options: Any) -> str:
        thread = SandboxThread(parse_state(state), rate_limit=False, **options)
        started.append(thread)
        return thread.start()

    yield start
    for thread in started:
        thread.stop()


def counts(app: App) -> dict[str, int]:
    with app.db().session(read_only=True) as store:
        history = store.history
        trades = history.trades()
        transfers = history.transfers()
        ledger = history.ledger()
    assert len({t.trade_id for t in trades}) == len(trades)
    return {
        "trades": len(trades),
        "deposits": sum(t.kind is TransferKind.DEPOSIT for t in transfers),
        "withdrawals": sum(t.kind is TransferKind.WITHDRAWAL for t in transfers),
        "trading": sum(e.source == "trading" for e in ledger),
        "funding": sum(e.source == "funding" for e in ledger),
    }


async def post(url: str, path: str, body: dict[str, Any]) -> Any:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/__sandbox__/{path}", json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()


async def test_full_import_is_exact_then_incremental_and_idempotent(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    url = sandbox_factory(make_state(fills=250, deposits=130))
    app = make_app(tmp_path, url)
    report = await import_history(app, "alice")
    assert report.ok, report.errors
    expected = {"trades": 250, "deposits": 133, "withdrawals": 1, "trading": 500, "funding": 134}
    assert counts(app) == expected
    assert report.new == {
        HistoryKind.TRADES: 250,
        HistoryKind.DEPOSITS: 133,
        HistoryKind.WITHDRAWALS: 1,
        HistoryKind.LEDGER: 634,
    }
    with app.db().session(read_only=True) as store:
        trade = store.history.trades()[0]
        cursors = store.history.cursors(account="alice")
    assert trade.amount == Decimal("0.001") and trade.price == Decimal("60000.1")
    assert trade.fee == Decimal("0.000001") and trade.fee_asset == "BTC"  # OKX -0.000001 = paid
    assert all(not WalkCursor.load(text).walking for text in cursors.values())

    again = await import_history(app, "alice")
    assert again.ok and again.total_new == 0
    assert counts(app) == expected

    await post(url, "trade", {"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": "0.5"})
    third = await import_history(app, "alice", kinds={HistoryKind.TRADES})
    assert third.new == {HistoryKind.TRADES: 1}
    assert counts(app)["trades"] == 251 and counts(app)["trading"] == 500  # ledger not asked
    app.close()


async def test_pending_deposit_is_read_again_until_final(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    url = sandbox_factory(make_state(fills=0, pending_deposit=True))
    app = make_app(tmp_path, url)
    await import_history(app, "alice", kinds={HistoryKind.DEPOSITS})
    with app.db().session(read_only=True) as store:
        pending = [t for t in store.history.transfers() if t.transfer_id == "77"]
        cursor = WalkCursor.load(store.history.get_cursor(account="alice", kind="deposits"))
    assert pending[0].status == "pending"
    assert cursor.done == T0 + 6  # held just below the pending deposit
    app.close()


async def test_fault_mid_import_keeps_committed_pages_and_rerun_completes(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    url = sandbox_factory(make_state(fills=600))
    app = make_app(tmp_path, url)
    # the first two pages answer, every later request fails: a fault at a known page
    fault = {"path": FILLS_HISTORY, "mode": "http500", "count": 50, "after": 2}
    await post(url, "faults", fault)
    report = await import_history(app, "alice", kinds={HistoryKind.TRADES})
    assert not report.ok and "OKX" in report.errors[0].message
    kept = counts(app)["trades"]
    assert kept == 200  # the two committed pages, nothing of the failed one
    async with aiohttp.ClientSession() as session:
        await session.delete(f"{url}/__sandbox__/faults")
    rerun = await import_history(app, "alice", kinds={HistoryKind.TRADES})
    assert rerun.ok, rerun.errors
    assert counts(app)["trades"] == 600
    assert rerun.new[HistoryKind.TRADES] == 600 - kept
    app.close()


_CHILD = """
import asyncio, sys
from pathlib import Path
from keyfolio.config import Settings
from keyfolio.services.context import App
from keyfolio.services.imports import import_history
app = App(settings=Settings(home=Path(sys.argv[1]), retries=1), password=lambda **_: sys.argv[2])
asyncio.run(import_history(app, "alice"))
print("finished")
"""


async def held_requests(url: str, child: subprocess.Popen[bytes], log: Path) -> list[Any]:
    """The sandbox's held requests, once there is one (while the child is alive)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(120):
            async with session.get(f"{url}/__sandbox__/faults/held?wait=1") as response:
                held: list[Any] = (await response.json())["held"]
            if held:
                return held
            assert child.poll() is None, log.read_text()
    raise AssertionError("the child never reached the held request: " + log.read_text())


@pytest.mark.fault("kill_import", sees="the pages imported before the kill; the next run completes")
async def test_killed_import_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    url = sandbox_factory(make_state(fills=1500, deposits=150))
    app = make_app(tmp_path, url)
    # the third page request of the trades walk is held: two pages are committed by then
    await post(url, "faults", {"path": FILLS_HISTORY, "mode": "hold", "after": 2})
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    log = tmp_path / "child.log"
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(tmp_path), PASSWORD],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    try:
        held = await held_requests(url, child, log)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert [h["path"].split("?")[0] for h in held] == [FILLS_HISTORY]
    await post(url, "faults/release", {})
    partial = counts(app)
    assert partial["trades"] == 200  # killed mid-walk, after exactly two committed pages
    with app.db().session(read_only=True) as store:
        assert WalkCursor.load(
            store.history.get_cursor(account="alice", kind="trades:SPOT")
        ).walking

    report = await import_history(app, "alice")
    assert report.ok, report.errors
    expected = {"trades": 1500, "deposits": 153, "withdrawals": 1, "trading": 3000, "funding": 154}
    assert counts(app) == expected
    assert report.new[HistoryKind.TRADES] == 1500 - partial["trades"]
    app.close()


async def test_manual_and_unsupported_accounts_are_reported_not_raised(
    tmp_path: Path, sandbox_factory: Any
) -> None:
    app = make_app(tmp_path)
    with app.db().session() as store:
        store.add_account(spec=AccountSpec(exchange="manual", name="cold"))
        store.add_account(spec=AccountSpec(exchange="gate", name="kc"))
    app.vault(create=True).set(
        "kc", Credentials(fields={"apiKey": "kc-key-1", "secret": "kc-secret-2"})
    )
    reports = {r.account: r for r in await import_all(app)}
    assert reports["cold"].skipped and reports["cold"].ok
    assert isinstance(reports["kc"].errors[0], ExchangeUnsupportedError)
    assert "csv" in (reports["kc"].errors[0].hint or "")
    app.close()


async def test_wrong_key_is_reported_once(tmp_path: Path, sandbox_factory: Any) -> None:
    url = sandbox_factory(make_state(fills=1))
    app = make_app(tmp_path, url)
    app.vault().set("alice", Credentials(fields={**credentials().fields, "secret": "wrong-x"}))
    report = await import_history(app, "alice")
    assert len(report.errors) == 1 and report.total_new == 0
    assert "secret" in report.errors[0].message.lower() or "signature" in report.errors[0].message
    app.close()


async def test_a_bug_in_one_account_is_reported_as_a_bug_and_the_others_import(
    tmp_path: Path,
    sandbox_factory: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from keyfolio.services import imports

    url = sandbox_factory(make_state(fills=2))
    app = make_app(tmp_path, url)
    with app.db().session() as store:  # a second account on the same sandbox key
        store.add_account(spec=AccountSpec(exchange="okx", name="bob", api_url=url))
    app.vault().set("bob", credentials())
    save_page = imports._save_page

    def buggy_save_page(app: App, name: str, *args: Any) -> int:  # a bug injected in our code
        if name == "bob":
            raise KeyError("bob's bug")
        return save_page(app, name, *args)

    monkeypatch.setattr(imports, "_save_page", buggy_save_page)
    reports = {r.account: r for r in await import_all(app)}
    assert reports["alice"].ok and reports["alice"].new[HistoryKind.TRADES] == 2  # went on
    (error,) = reports["bob"].errors
    assert isinstance(error, InternalError)
    assert error.message == (
        "bug in keyfolio while importing the history of 'bob': KeyError: \"bob's bug\""
    )
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "import bob: a bug in keyfolio" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)
    app.close()
