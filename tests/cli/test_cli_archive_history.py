"""A new user with two years of OKX history, end to end (subprocesses, sandbox OKX):

link the account, see `pnl` flag most of it "cost basis unknown" (OKX's API reaches back 3
months), run `keyfolio sync` until the quarterly archives are in, and see every cost basis
known and `reconcile` explain every balance.

The account's trades and deposits span the last 8 complete quarters and the current one: the
fills archive (8 quarters) holds every trade older than the API's window, and OKX's deposit
history has no window (docs/sandbox/okx.md). The bills archive reaches back to 2021 Q1: more
quarters than keyfolio applies for in a day (10). Its newest 10 cover the account's whole
life; the older ones wait for the next days' applications, and the numbers do not need them.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from cli_support import READ_KEY, Runner, control

from keyfolio.exchanges.okx_archive import APPLY_BUDGET

DAY = 86_400_000
NOW = time.time_ns() // 1_000_000
_MOMENT = datetime.fromtimestamp(NOW / 1000, tz=UTC)
CURRENT = _MOMENT.year * 4 + (_MOMENT.month - 1) // 3  # this quarter, as an index
BILL_QUARTERS = CURRENT - 2021 * 4  # every complete quarter since 2021 Q1


def quarter_start(back: int) -> int:
    """The first Unix ms of the quarter ``back`` quarters before the current one."""
    index = CURRENT - back
    return int(datetime(index // 4, index % 4 * 3 + 1, 1, tzinfo=UTC).timestamp() * 1000)


def _fill(pair: str, side: str, px: str, sz: str, fee: str, ts: int) -> dict[str, str]:
    """A fill whose fee is taken from what it bought (OKX records it as a negative number)."""
    base, quote = pair.split("-")
    fee_ccy = base if side == "buy" else quote
    return {"instId": pair, "side": side, "fillPx": px, "fillSz": sz, "fee": fee,
            "feeCcy": fee_ccy, "ts": str(ts)}  # fmt: skip


def _history() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Two USDT deposits; a BTC and an ETH buy each quarter, a BTC sell every other one."""
    deposits = [
        {"ccy": "USDT", "amt": "30000", "ts": str(quarter_start(8) + 2 * DAY)},
        {"ccy": "USDT", "amt": "10000", "ts": str(quarter_start(4) + 2 * DAY)},
    ]
    fills = []
    for back in range(8, 0, -1):
        start = quarter_start(back)
        fills.append(_fill("BTC-USDT", "buy", f"{30000 + 1000 * back}", "0.1", "-0.0001",
                           start + 10 * DAY))  # fmt: skip
        fills.append(_fill("ETH-USDT", "buy", f"{2000 + 10 * back}", "1", "-0.001",
                           start + 20 * DAY))  # fmt: skip
        if back % 2:
            fills.append(_fill("BTC-USDT", "sell", "50000", "0.05", "-2.5", start + 40 * DAY))
    fills.append(_fill("ETH-USDT", "sell", "3000", "0.5", "-1.5", NOW - 2 * DAY))  # every window
    return deposits, fills


DEPOSITS, FILLS = _history()


def held() -> dict[str, str]:
    """The trading balances the history leaves (OKX records a fee as a negative number)."""
    amounts: dict[str, Decimal] = {}
    for deposit in DEPOSITS:
        amounts[deposit["ccy"]] = amounts.get(deposit["ccy"], Decimal(0)) + Decimal(deposit["amt"])
    for fill in FILLS:
        base, quote = fill["instId"].split("-")
        size, price = Decimal(fill["fillSz"]), Decimal(fill["fillPx"])
        sign = 1 if fill["side"] == "buy" else -1
        amounts[base] = amounts.get(base, Decimal(0)) + sign * size
        amounts[quote] = amounts.get(quote, Decimal(0)) - sign * size * price
        amounts[fill["feeCcy"]] += Decimal(fill["fee"])
    return {asset: f"{amount.normalize():f}" for asset, amount in amounts.items()}


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    state = {
        "tickers": {"BTC-USDT": {"last": "60000"}, "ETH-USDT": {"last": "3000"}},
        "keys": [{**READ_KEY, "perm": "read_only", "account": "alice"}],
        "accounts": {"alice": {"trading": held(), "deposits": DEPOSITS, "fills": FILLS}},
    }
    with SandboxThread(parse_state(state)) as server:
        yield server.url


def unknown_basis(pnl: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, asset) of every flag that says a cost basis is unknown."""
    return {
        (flag["kind"], flag["asset"])
        for flag in pnl["flags"]
        if flag["kind"] in ("held_before_history", "sold_beyond_history")
        or "unknown_basis" in flag["kind"]
    }


def test_two_years_of_history_have_every_cost_basis_after_the_archive_import(
    kf: Runner, sandbox_url: str
) -> None:
    control(sandbox_url, "/__sandbox__/okx/archives", {"polls": 0})  # ready at the first poll
    added = kf("account", "add", "okx", "--name", "alice", "--api-url", sandbox_url, creds=READ_KEY)
    assert added.returncode == 0, added.stderr
    assert "OKX fills archive: 0 of 8 quarters imported, 8 being prepared by OKX" in added.stdout
    found = re.search(r"History imported: (\d+) trades?", added.stdout)
    assert found is not None, added.stdout
    api_trades = int(found[1])
    assert api_trades < len(FILLS)  # the API's 3 months hold the newest trades only

    before = kf("pnl", "--json")
    assert before.returncode == 0, before.stderr
    assert {("held_before_history", "BTC"), ("held_before_history", "ETH")} <= unknown_basis(
        before.json()
    )

    trades = api_trades
    notes: dict[str, str] = {}
    # Until the fills archive is in and the bills archive has nothing left to do today (polls
    # 0: the first sync downloads every quarter applied for; a rate-limited poll goes on later)
    for _ in range(3):
        synced = kf("sync", "--json")
        assert synced.returncode == 0, synced.stderr
        (history,) = synced.json()["history"]
        assert history["errors"] == []
        assert history["new"] or history["progress"] != notes, history  # it made progress
        trades += history["new"].get("trades", 0)
        notes = history["progress"]
        if "archive:fills" not in history["unfinished"] and "being prepared" not in str(notes):
            break
    else:
        pytest.fail(f"the archives did not finish: {notes}")
    assert trades == len(FILLS)  # each trade once, whether from the API, fills or bills
    imported = min(APPLY_BUDGET["bills"], BILL_QUARTERS)
    assert imported >= 8  # the quarters the account lived in are all imported today
    budget = APPLY_BUDGET["bills"]
    waiting = f", {BILL_QUARTERS - imported} wait for the daily application limit ({budget})"
    log = control(sandbox_url, "/__sandbox__/requests")
    applied = Counter(entry["path"] for entry in log if entry["method"] == "POST")
    assert applied == {  # within keyfolio's daily budget, each quarter once
        "/api/v5/account/bills-history-archive": imported,
        "/api/v5/trade/fills-archive": APPLY_BUDGET["fills"],
    }
    assert len(control(sandbox_url, "/__sandbox__/okx/archives")["jobs"]) == imported + 8
    assert notes == {
        "archive:bills": f"OKX bills archive: {imported} of {BILL_QUARTERS} quarters imported"
        + (waiting if BILL_QUARTERS > imported else "")
    }

    after = kf("pnl", "--json")
    assert after.returncode == 0, after.stderr
    report = after.json()
    assert unknown_basis(report) == set() and report["flags"] == []
    assert {row["asset"]: row["unknown_basis_amount"] for row in report["assets"]} == {
        "BTC": "0",
        "ETH": "0",
    }
    rec = kf("reconcile", "--json")
    assert rec.returncode == 0, rec.stderr
    (alice,) = rec.json()["accounts"]
    assert {row["asset"]: (row["reported"], row["difference"], row["cause"])
            for row in alice["assets"]} == {
        asset: (amount, "0", None) for asset, amount in held().items()
    }  # fmt: skip
