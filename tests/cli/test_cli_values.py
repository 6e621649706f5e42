"""`keyfolio history` (JSON and the terminal chart) and `keyfolio db compact`, end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cli_support import Runner

from keyfolio.cli.values import render_chart
from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.records import Price
from keyfolio.services.context import App
from keyfolio.services.snapshots import record_snapshots
from keyfolio.services.values import SeriesPoint

# Half past an hour that has passed: the two sets 40 days back (5 minutes apart) then always
# share one retention hour, whatever the time the tests run.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(minutes=30)


def _ok(**amounts: str) -> list[SourceResult]:
    return [
        SourceResult(Source.TRADING, SourceStatus.OK, {k: Decimal(v) for k, v in amounts.items()})
    ]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A data dir with account ``alice`` and snapshots 40 days, 3 hours and 1 hour ago."""
    home = tmp_path / "home"
    app = App(settings=Settings(home=home), password=lambda **_: "unused")
    with app.db().session() as store:
        store.add_account(spec=AccountSpec(exchange="okx", name="alice"))
        store.upsert_prices(
            prices=[
                Price("BTC", Decimal(60000), "okx:BTC-USDT", NOW),
                Price("USDT", Decimal(1), "par", NOW),
            ]
        )
    for age, btc in ((timedelta(days=40), "1"), (timedelta(days=40, minutes=-5), "1.5")):
        record_snapshots(app, account="alice", at=NOW - age, results=_ok(BTC=btc))
    record_snapshots(app, account="alice", at=NOW - timedelta(hours=3), results=_ok(BTC="0.5"))
    record_snapshots(app, account="alice", at=NOW - timedelta(hours=1), results=_ok(USDT="100"))
    app.close()
    return home


def test_history_json(home: Path) -> None:
    kf = Runner(home)
    result = kf("history", "--window", "24h", "--json")
    assert result.returncode == 0, result.stderr
    data = result.json()
    assert (data["portfolio"], data["window"], data["currency"]) == ("main", "24h", "USD")
    assert [p["value"] for p in data["points"]] == ["90000", "30000", "100"]
    btc = kf("history", "--window", "1D", "--asset", "BTC", "--json").json()
    assert btc["asset"] == "BTC" and btc["window"] == "24h"
    assert [(p["value"], p["amount"]) for p in btc["points"]] == [
        ("90000", "1.5"),
        ("30000", "0.5"),
        ("0", "0"),
    ]


def test_history_chart(home: Path) -> None:
    result = Runner(home)("history", "--window", "90d")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Value series (USD) of portfolio 'main', window 90d" in out
    assert "90,000.00 ┤" in out and "100.00 ┤" in out  # max and min labels
    assert "First 90,000.00" in out and "Last 100.00" in out
    assert "Change -89,900.00 (-99.89%)" in out
    assert "The series starts after the window's start" in out
    assert any(0x2800 < ord(char) <= 0x28FF for char in out)  # braille dots drawn


def test_history_without_snapshots_says_what_to_do(tmp_path: Path) -> None:
    result = Runner(tmp_path / "empty")("history")
    assert result.returncode == 0, result.stderr
    assert "No value series yet for portfolio 'main'" in result.stdout
    assert "keyfolio sync" in result.stdout


def test_history_mistakes_exit_2_with_a_hint(home: Path) -> None:
    kf = Runner(home)
    bad = kf("history", "--window", "2w")
    assert bad.returncode == 2
    assert "Unknown window '2w'" in bad.stderr and "1h, 24h, 7d" in bad.stderr
    missing = kf("history", "--portfolio", "nope")
    assert missing.returncode != 0 and "No portfolio named 'nope'" in missing.stderr
    never = kf("history", "--asset", "NOPE")
    assert never.returncode == 1 and "portfolio 'main' has never held NOPE" in never.stderr
    assert "Hint: `keyfolio show` lists the assets held" in never.stderr


def test_db_compact(home: Path) -> None:
    kf = Runner(home)
    result = kf("db", "compact", "--json")
    assert result.returncode == 0, result.stderr
    data = result.json()
    assert (data["sets_removed"], data["snapshots_removed"], data["sets_kept"]) == (1, 1, 3)
    again = kf("db", "compact")
    assert again.returncode == 0, again.stderr
    assert "Removed 0 snapshot sets (0 asset rows); 3 sets kept" in again.stdout
    assert kf("history", "--window", "90d", "--json").json()["points"][0]["value"] == "90000"


def test_render_chart_draws_a_step_line_with_decimal_ratios() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    points = [
        SeriesPoint(start, Decimal(0)),
        SeriesPoint(start + timedelta(hours=1), Decimal("10")),
    ]
    lines = render_chart(points, start=start, end=start + timedelta(hours=2), width=4, height=2)
    assert lines == ["  ⡏⠉", "⣀⣀⡇ "]  # low for 1h, a riser, then high
    flat = render_chart(points[:1], start=start, end=start + timedelta(hours=1), width=3, height=1)
    assert flat == ["⠒⠒⠒"]
    assert render_chart([], start=start, end=start, width=2, height=1) == ["  "]
