"""Reconciliation on a real sync: sandbox OKX, its history import, SQLite; planted differences."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from services_support import linked_app, okx_fields

from keyfolio.analytics.reconcile import Cause
from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.history import LedgerEntry
from keyfolio.errors import NotFoundError, UsageError
from keyfolio.services.analytics import pnl_report, pnl_to_json
from keyfolio.services.context import App
from keyfolio.services.reconcile import reconcile_accounts, reconcile_to_json
from keyfolio.services.sync import sync_accounts

PASSWORD = "pw-services-reconcile-7ab"
KEY = {"apiKey": "rec-key-1a2b", "secret": "rec-secret-3c4d", "passphrase": "rec-pass-5e"}
DAY = 86_400_000
TS = (
    int(time.time() * 1000) // DAY - 20
) * DAY  # a UTC midnight 20 days ago: in OKX's 1-month (funding bills) and 3-month windows


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    state: dict[str, Any] = {
        "tickers": {"BTC-USDT": {"last": "60000"}, "ETH-USDT": {"last": "3000"}},
        "keys": [{**KEY, "perm": "read_only", "account": "alice"}],
        "accounts": {
            "alice": {
                # 1.5 BTC held, but only one deposit of 1 BTC in the history: 0.5 is unexplained
                "funding": {"BTC": "1.5", "USDT": "100"},
                "trading": {"ETH": "1.999", "USDT": "4000"},
                "deposits": [
                    {"ccy": "BTC", "amt": "1", "ts": str(TS + DAY)},
                    {"ccy": "USDT", "amt": "10100", "ts": str(TS)},
                ],
                "withdrawals": [
                    {
                        "ccy": "USDT",
                        "amt": "99",
                        "fee": "1",
                        "feeCcy": "USDT",
                        "ts": str(TS + 2 * DAY),
                    },
                ],  # fmt: skip
                "fills": [
                    {
                        "instId": "ETH-USDT",
                        "side": "buy",
                        "fillPx": "3000",
                        "fillSz": "2",
                        "fee": "-0.001",
                        "feeCcy": "ETH",
                        "ts": str(TS + 3 * DAY),
                    },
                ],  # fmt: skip
            }
        },
    }
    with SandboxThread(parse_state(state), rate_limit=False) as server:
        yield server.url


@pytest.fixture
def app(tmp_path: Path, sandbox_url: str) -> Iterator[App]:
    settings = Settings(home=tmp_path, retries=1)
    app = linked_app(settings, PASSWORD, "okx", sandbox_url, okx_fields(KEY))
    yield app
    app.close()


async def test_a_planted_missing_deposit_is_explained(app: App) -> None:
    report = await sync_accounts(app)
    assert [outcome.status for outcome in report.outcomes] == ["ok"]
    result = reconcile_accounts(app)
    alice = result.report.account("alice")
    btc = alice.asset("BTC")
    assert (btc.reported, btc.implied, btc.difference) == (
        Decimal("1.5"),
        Decimal(1),
        Decimal("0.5"),
    )
    assert btc.cause is Cause.HISTORY_BEFORE_WINDOW
    assert btc.opening == Decimal("0.5")  # the funding bill of the deposit says 0.5 was there
    eth = alice.asset("ETH")  # bought 2, paid 0.001 ETH in fees: all explained
    assert (eth.implied, eth.cause) == (Decimal("1.999"), None)
    usdt = alice.asset("USDT")  # 10100 in, 100 out, 6000 spent: 4000 implied, 4100 held
    assert (usdt.implied, usdt.difference) == (Decimal(4000), Decimal(100))
    assert result.refused == []
    assert reconcile_to_json(result.report) == {
        "accounts": [
            {
                "account": "alice",
                "assets": [
                    {"asset": "BTC", "reported": "1.5", "implied": "1", "difference": "0.5",
                     "cause": "history_before_window"},
                    {"asset": "ETH", "reported": "1.999", "implied": "1.999", "difference": "0",
                     "cause": None},
                    {"asset": "USDT", "reported": "4100", "implied": "4000",
                     "difference": "100", "cause": "history_before_window"},
                ],
            }
        ]
    }  # fmt: skip
    # P/L flags the same 0.5 BTC as of unknown basis, and points at the reconciliation
    flags = pnl_to_json(pnl_report(app))["flags"]
    held = next(f for f in flags if f["kind"] == "held_before_history" and f["asset"] == "BTC")
    assert held["see"] == "keyfolio reconcile" and held["amount"] == "0.5"


async def test_an_unparsed_bill_is_the_cause(app: App) -> None:
    await sync_accounts(app)
    with app.db().session() as store:
        store.history.add_ledger(
            [
                LedgerEntry(
                    "alice", "X1", datetime.fromtimestamp((TS + 4 * DAY) / 1000, UTC), "USDT",
                    Decimal(100), None, "type 250", "funding",
                )
            ]
        )  # fmt: skip
    usdt = reconcile_accounts(app, account="alice").report.account("alice").asset("USDT")
    assert usdt.difference == Decimal(100) and usdt.cause is Cause.UNPARSED_BILL_TYPE


async def test_filters_and_refusals(app: App) -> None:
    await sync_accounts(app, history=False)
    with pytest.raises(NotFoundError):
        reconcile_accounts(app, account="nobody")
    with pytest.raises(NotFoundError):
        reconcile_accounts(app, portfolio="nowhere")
    with app.db().session() as store:
        store.add_account(spec=AccountSpec(exchange="manual", name="cold"))
    with pytest.raises(UsageError) as caught:
        reconcile_accounts(app, account="cold")
    assert "manual" in caught.value.message and caught.value.hint
    report = reconcile_accounts(app, portfolio="main").report
    assert [item.account for item in report.accounts] == ["alice"]  # no manual account
    assert {row.cause for row in report.account("alice").assets} == {Cause.NO_HISTORY}
