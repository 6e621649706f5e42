"""Coinbase history through the import service, against the sandbox: exact counts, a second
import that adds nothing, and a failed stream that the next run completes without duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from coinbase_support import CB_READ, coinbase_state
from services_support import linked_app

from keyfolio.config import Settings
from keyfolio.domain.history import HistoryKind, TransferKind
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state
from keyfolio.services.context import App
from keyfolio.services.imports import import_history

PASSWORD = "pw-coinbase-imports-7a1"
FILLS = "/api/v3/brokerage/orders/historical/fills"


@pytest.fixture
def url() -> Iterator[str]:
    with SandboxThread(parse_state(coinbase_state()), rate_limit=False) as server:
        yield server.url


@pytest.fixture
def app(tmp_path: Path, url: str) -> Iterator[App]:
    made = linked_app(Settings(home=tmp_path, retries=1), PASSWORD, "coinbase", url, dict(CB_READ))
    yield made
    made.close()


def counts(app: App) -> dict[str, int]:
    with app.db().session(read_only=True) as store:
        trades = store.history.trades()
        transfers = store.history.transfers()
        ledger = store.history.ledger()
    assert len({t.trade_id for t in trades}) == len(trades)
    assert len({(t.kind, t.transfer_id) for t in transfers}) == len(transfers)
    assert len({e.entry_id for e in ledger}) == len(ledger)
    return {
        "trades": len(trades),
        "deposits": sum(t.kind is TransferKind.DEPOSIT for t in transfers),
        "withdrawals": sum(t.kind is TransferKind.WITHDRAWAL for t in transfers),
        "ledger": len(ledger),
    }


async def control(url: str, method: str, path: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{url}/__sandbox__/{path}", json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()


async def test_a_full_import_is_exact_and_a_second_adds_nothing(app: App, url: str) -> None:
    report = await import_history(app, "alice")
    assert report.ok, report.errors
    expected = counts(app)
    # the ledger: ETH's two sends and its fill, USD's bank deposit and four fills, BTC's three
    assert expected == {"trades": 4, "deposits": 2, "withdrawals": 1, "ledger": 11}
    assert report.new[HistoryKind.TRADES] == 4 and report.new[HistoryKind.LEDGER] > 0
    with app.db().session(read_only=True) as store:
        sold = next(t for t in store.history.trades() if t.base == "ETH")
    assert (sold.amount, sold.price, sold.fee, sold.fee_asset) == (
        Decimal("1"), Decimal("2000"), Decimal("2"), "USD",
    )  # fmt: skip
    again = await import_history(app, "alice")
    assert again.ok and again.total_new == 0
    assert counts(app) == expected


async def test_a_failed_stream_keeps_the_others_and_the_next_run_completes(
    app: App, url: str
) -> None:
    await control(url, "POST", "faults", {"path": FILLS, "mode": "http500", "count": 50})
    failed = await import_history(app, "alice")
    assert not failed.ok and "Coinbase" in failed.errors[0].message
    kept = counts(app)
    assert kept["trades"] == 0 and kept["ledger"] > 0 and kept["withdrawals"] == 1
    await control(url, "DELETE", "faults")
    rerun = await import_history(app, "alice")
    assert rerun.ok, rerun.errors
    assert rerun.new.get(HistoryKind.TRADES) == 4
    assert not rerun.new.get(HistoryKind.LEDGER)  # the ledger was not imported twice
    assert counts(app) == {**kept, "trades": 4}
