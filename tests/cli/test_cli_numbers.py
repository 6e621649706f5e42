"""A new user's journey through the numbers, end to end (subprocesses, sandbox OKX):

link and sync an account whose history does not explain its BTC, see `reconcile` say why, see
`pnl` point at it, list the tax lots (JSON and CSV) and find their total equal to the realized
P/L, and see `show` mark the stablecoin priced at par.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from cli_support import READ_KEY, Runner, base_state

DAY = 86_400_000
TS = (
    int(time.time() * 1000) // DAY - 60
) * DAY  # a UTC midnight 60 days ago: in OKX's 3-month windows


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    state = base_state()
    alice = state["accounts"]["alice"]
    alice["deposits"] = [{"ccy": "USDT", "amt": "20000", "ts": str(TS)}]
    alice["fills"] = [
        {"instId": "BTC-USDT", "side": "buy", "fillPx": "50000", "fillSz": "0.3",
         "fee": "-0.0003", "feeCcy": "BTC", "ts": str(TS + DAY)},
        {"instId": "BTC-USDT", "side": "sell", "fillPx": "58000", "fillSz": "0.1",
         "fee": "-5.8", "feeCcy": "USDT", "ts": str(TS + 40 * DAY)},
    ]  # fmt: skip
    with SandboxThread(parse_state(state)) as server:
        yield server.url


def test_reconcile_pnl_and_tax_lots(kf: Runner, sandbox_url: str, tmp_path: Path) -> None:
    added = kf("account", "add", "okx", "--name", "alice", "--api-url", sandbox_url, creds=READ_KEY)
    assert added.returncode == 0, added.stderr

    # 0.5 BTC held; the history bought 0.3, paid 0.0003 in fees and sold 0.1
    rec = kf("reconcile", "--json")
    assert rec.returncode == 0, rec.stderr
    (alice,) = rec.json()["accounts"]
    btc = next(row for row in alice["assets"] if row["asset"] == "BTC")
    assert btc == {
        "asset": "BTC",
        "reported": "0.5",
        "implied": "0.1997",
        "difference": "0.3003",
        "cause": "history_before_window",
    }
    text = kf("reconcile", "--account", "alice")
    assert text.returncode == 0, text.stderr
    since = datetime.fromtimestamp(TS / 1000, UTC).date().isoformat()
    assert f"Account alice (imported history since {since})" in text.stdout
    assert "history before the window" in text.stdout
    assert "not explained by the imported history" in text.stdout
    nobody = kf("reconcile", "--account", "nobody")
    assert nobody.returncode == 1 and "Hint:" in nobody.stderr

    pnl = kf("pnl")
    assert "run `keyfolio reconcile`" in pnl.stdout
    realized = kf("pnl", "--json").json()["total_realized"]

    out = tmp_path / "lots.csv"
    lots = kf("pnl", "--lots", "--json", "--csv", str(out))
    assert lots.returncode == 0, lots.stderr
    doc = lots.json()
    assert list(doc) == ["method", "currency", "lots", "total_gain"]
    assert doc["total_gain"] == realized
    (lot,) = doc["lots"]
    assert (lot["asset"], lot["amount"], lot["holding_days"]) == ("BTC", "0.1", 39)
    acquired = datetime.fromtimestamp((TS + DAY) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert lot["acquired_at"] == acquired and lot["fee"] == "5.8"
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "asset", "account", "disposed_at", "acquired_at", "amount", "cost", "proceeds", "fee",
        "gain", "holding_days",
    ]  # fmt: skip
    exact = sum((Decimal(row["gain"]) for row in rows), Decimal(0))
    assert exact.quantize(Decimal("1e-12")) == Decimal(realized)
    assert "Wrote 1 lot to" in lots.stderr

    table = kf("pnl", "--lots", "--method", "average")
    assert table.returncode == 0, table.stderr
    assert "Tax lots of portfolio main (average cost, USD)" in table.stdout
    assert "Total gain:" in table.stdout
    refused = kf("pnl", "--csv", str(out))
    assert refused.returncode == 2 and "--lots" in refused.stderr

    show = kf("show")
    assert "(par)" in show.stdout and "assumed 1:1" in show.stdout
    holdings = {row["asset"]: row for row in kf("show", "--json").json()["holdings"]}
    assert holdings["USDT"]["price_source"] == "par"
    assert holdings["BTC"]["price_stale"] is False and holdings["BTC"]["price_as_of"]
