"""Stored values outside the money bounds (written by an older keyfolio, straight through the
storage layer here): `show`, `history` and `pnl` leave them out, report them, show the rest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.history import Trade, TradeSide, Transfer, TransferKind
from keyfolio.domain.records import Price, Snapshot
from keyfolio.services.analytics import pnl_report, pnl_to_json
from keyfolio.services.context import App
from keyfolio.services.snapshots import record_snapshots
from keyfolio.services.summary import portfolio_summary
from keyfolio.services.values import series_to_json, value_series
from keyfolio.services.view import portfolio_view

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HUGE = Decimal("1e30")  # `keyfolio holding add USDT 1e30` stored this before the bounds
FINE = Decimal("1e-40")  # far more decimal places than 18


def ok(source: Source, **amounts: Decimal) -> SourceResult:
    return SourceResult(source, SourceStatus.OK, amounts)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = App(settings=Settings(home=tmp_path), password=lambda **_: "unused")
    with app.db().session() as store:
        store.add_account(spec=AccountSpec(exchange="manual", name="manual"))
        store.add_account(spec=AccountSpec(exchange="okx", name="a"))
        store.upsert_prices(
            prices=[
                Price("BTC", Decimal(60000), "okx:BTC-USDT", NOW),
                Price("ETH", Decimal(3000), "okx:ETH-USDT", NOW),
                Price("USDT", Decimal(1), "par", NOW),
                Price("DUST", FINE, "okx:DUST-USDT", NOW),
            ]
        )
    yield app
    app.close()


def write_old_rows(app: App) -> None:
    """What an older keyfolio could leave behind, written through the storage layer."""
    manual = [ok(Source.TRADING, USDT=HUGE, BTC=Decimal("0.5"))]
    exchange = [ok(Source.TRADING, ETH=Decimal(2)), ok(Source.FUNDING, XYZ=FINE, DUST=Decimal(1))]
    with app.db().session() as store:
        store.record_sync(name="manual", results=manual, synced_at=NOW)
        store.record_sync(name="a", results=exchange, synced_at=NOW)
        store.history.add_trades(
            [
                Trade(
                    "a",
                    "t-ok",
                    NOW - timedelta(days=2),
                    "ETH",
                    "USDT",
                    TradeSide.BUY,
                    Decimal(2),
                    Decimal(2500),
                    Decimal(1),
                    "USDT",
                ),  # fmt: skip
                Trade(
                    "a",
                    "t-huge",
                    NOW - timedelta(days=1),
                    "ETH",
                    "USDT",
                    TradeSide.BUY,
                    HUGE,
                    Decimal(2500),
                ),  # fmt: skip
            ]
        )
        store.history.add_transfers(
            [Transfer("a", "d-fine", NOW - timedelta(days=1), TransferKind.DEPOSIT, "ETH", FINE)]
        )
    record_snapshots(app, account="manual", results=manual, at=NOW - timedelta(hours=2))
    record_snapshots(app, account="a", results=exchange, at=NOW - timedelta(hours=2))
    with app.db().session() as store:  # a snapshot whose value is far outside the bounds
        bad = Snapshot(NOW - timedelta(hours=1), "a", "trading", "ETH", Decimal(2),
                       Decimal("1e70"), "old", Decimal("2e70"))  # fmt: skip
        store.snapshots.record(account="a", source="trading", at=bad.at, rows=[bad])


def refused_keys(items: list[dict[str, object]]) -> set[tuple[object, ...]]:
    return {(item["where"], item["account"], item["asset"], item["field"]) for item in items}


def test_show_leaves_the_refused_values_out_and_says_what_to_do(app: App) -> None:
    write_old_rows(app)
    view = portfolio_view(app)
    assert {h.asset: h.amount for h in view.holdings} == {
        "BTC": Decimal("0.5"),
        "ETH": Decimal(2),
        "DUST": Decimal(1),
    }
    assert view.total_value == Decimal(36000)  # 0.5 x 60000 + 2 x 3000; DUST is unpriced
    assert view.unpriced == ["DUST"]
    by_asset = {item.asset: item for item in view.refused}
    assert set(by_asset) == {"USDT", "XYZ", "DUST"}
    usdt = by_asset["USDT"]
    assert (usdt.where, usdt.account, usdt.field, usdt.value) == (
        "trading balance",
        "manual",
        "amount",
        HUGE,
    )
    assert "is larger than 10^18" in usdt.reason and "left out" in usdt.message
    assert "`keyfolio holding remove USDT --account manual`" in usdt.hint
    assert "`keyfolio sync --account a`" in by_asset["XYZ"].hint
    assert "has more than 36 decimal places" in by_asset["DUST"].reason  # a USD price
    assert "keyfolio sync" in by_asset["DUST"].hint
    summary = portfolio_summary(app)  # `show --json` and GET /api/v1/summary
    assert summary["total_value"] == "36000"
    assert refused_keys(summary["refused"]) == {
        ("trading balance", "manual", "USDT", "amount"),
        ("funding balance", "a", "XYZ", "amount"),
        ("price", None, "DUST", "price"),
    }
    assert {item["value"] for item in summary["refused"]} == {"1" + "0" * 30, "1E-40"}
    assert set(summary["change"]) and summary["top_gainers"] == []


def test_history_reports_them_and_skips_a_snapshot_outside_the_bounds(app: App) -> None:
    write_old_rows(app)
    series = value_series(app, window="24h", now=NOW)
    # The 2e70 snapshot is left out: ETH's earlier set (6000) carries over it.
    assert [point.value for point in series.points] == [HUGE + 36000]
    data = series_to_json(series)
    assert ("trading snapshot at 2026-11-25T11:00:00Z", "a", None, "value") in refused_keys(
        data["refused"]
    )
    assert ("trading balance", "manual", "USDT", "amount") in refused_keys(data["refused"])
    assert data["points"][-1]["value"] == "1" + "0" * 25 + "36000"


def test_pnl_reports_them_and_computes_the_rest(app: App) -> None:
    write_old_rows(app)
    report = pnl_report(app)
    eth = report.asset("ETH")
    assert eth.cost_basis == Decimal(5001)  # the 1e30 trade and the 1e-40 deposit are out
    assert eth.unrealized == Decimal(6000 - 5001)
    data = pnl_to_json(report)
    keys = refused_keys(data["refused"])
    assert ("trade t-huge", "a", "ETH", "amount") in keys
    assert ("deposit d-fine", "a", "ETH", "amount") in keys
    assert ("trading balance", "manual", "USDT", "amount") in keys
    trade = next(item for item in data["refused"] if item["where"] == "trade t-huge")
    assert "keyfolio trade add" in trade["hint"]


@pytest.mark.parametrize(
    ("usd", "open24h", "kept", "refused_field"),
    [
        (Decimal(60000), Decimal(58000), Decimal(58000), None),
        (Decimal("0.000000012345678901234567890123456789"), None, None, None),  # a cross rate
        (Decimal(60000), Decimal("1e40"), None, "open24h"),  # the price stays, its open goes
        (Decimal("1e40"), Decimal(1), "unpriced", "price"),
        (Decimal("1e-37"), None, "unpriced", "price"),
    ],
)
def test_check_prices(
    usd: Decimal, open24h: Decimal | None, kept: object, refused_field: str | None
) -> None:
    from keyfolio.services.bounds import check_prices

    prices, refused = check_prices({"X": Price("X", usd, "t", NOW, open24h)})
    assert [item.field for item in refused] == ([refused_field] if refused_field else [])
    if kept == "unpriced":
        assert prices == {}
    else:
        assert prices["X"].usd == usd and prices["X"].open24h_usd == kept
