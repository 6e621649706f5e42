"""P/L, value changes, movers and the `show --json` extras, on a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from services_support import three_accounts_app

from keyfolio.analytics.changes import ChangeBasis
from keyfolio.analytics.pnl import CostMethod, FlagKind
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.history import Trade, TradeSide, Transfer, TransferKind
from keyfolio.domain.records import Price
from keyfolio.errors import UsageError
from keyfolio.services.analytics import (
    changes,
    movers,
    parse_method,
    pnl_report,
    pnl_to_json,
    summary_extras,
)
from keyfolio.services.context import App
from keyfolio.services.snapshots import record_snapshots
from keyfolio.services.view import portfolio_view

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
D = Decimal


def ok(source: Source, **amounts: str) -> SourceResult:
    return SourceResult(source, SourceStatus.OK, {k: D(v) for k, v in amounts.items()})


def set_prices(app: App, **prices: tuple[str, str | None]) -> None:
    with app.db().session() as store:
        store.upsert_prices(
            prices=[
                Price(asset, D(usd), "test", NOW, None if opening is None else D(opening))
                for asset, (usd, opening) in prices.items()
            ]
        )


def trade(account: str, side: str, symbol: str, amount: str, price: str, minutes: int,
          fee: str = "0", fee_asset: str | None = None) -> Trade:  # fmt: skip
    base, quote = symbol.split("/")
    return Trade(
        account=account,
        trade_id=f"{account}-{minutes}-{side}",
        at=NOW - timedelta(days=10) + timedelta(minutes=minutes),
        base=base,
        quote=quote,
        side=TradeSide(side),
        amount=D(amount),
        price=D(price),
        fee=D(fee),
        fee_asset=fee_asset,
    )


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    app = three_accounts_app(tmp_path)
    with app.db().session() as store:
        store.record_sync(
            name="a", results=[ok(Source.TRADING, BTC="0.5", USDT="1000")], synced_at=NOW
        )
        store.record_sync(name="b", results=[ok(Source.FUNDING, ETH="2")], synced_at=NOW)
        store.record_sync(name="c", results=[ok(Source.TRADING, BTC="7")], synced_at=NOW)
        store.history.add_trades(
            [
                # a: 1 BTC @ 40000 + 20 fee (cost 40020); sells 0.5 @ 50000 - 25 fee.
                trade("a", "buy", "BTC/USDT", "1", "40000", 0, "20", "USDT"),
                trade("a", "sell", "BTC/USDT", "0.5", "50000", 60, "25", "USDT"),
                # c is in another portfolio: never counted in main.
                trade("c", "buy", "BTC/USDT", "7", "1", 0),
            ]
        )
        store.history.add_transfers(
            [
                Transfer("b", "d1", NOW - timedelta(days=5), TransferKind.DEPOSIT, "ETH", D(2)),
            ]
        )
    set_prices(app, BTC=("60000", "58000"), ETH=("3000", "3100"), USDT=("1", "1"))
    yield app
    app.close()


def test_pnl_report_of_a_portfolio(app: App) -> None:
    report = pnl_report(app)
    # BTC: realized 25000-25 - 40020/2 = 4965; left 0.5 costing 20010: 30000-20010 = 9990.
    btc = report.asset("BTC")
    assert (btc.amount, btc.cost_basis, btc.realized, btc.unrealized, btc.fees) == (
        D("0.5"),
        D(20010),
        D(4965),
        D(9990),
        D(45),
    )
    # ETH: deposited with no matching withdrawal: all of it has unknown basis, flagged.
    eth = report.asset("ETH")
    assert (eth.amount, eth.cost_basis, eth.unknown_basis_amount, eth.unrealized) == (
        D(2),
        D(0),
        D(2),
        D(0),
    )
    assert [f.kind for f in report.flags] == [FlagKind.UNKNOWN_BASIS_DEPOSIT]
    assert [row.asset for row in report.assets] == ["BTC", "ETH"]  # USDT is cash
    assert (report.total_realized, report.total_unrealized) == (D(4965), D(9990))
    other = pnl_report(app, portfolio="other")
    assert other.asset("BTC").cost_basis == D(7)


def test_pnl_to_json_has_the_issue_shape(app: App) -> None:
    data = pnl_to_json(pnl_report(app, method="average"))
    assert {"method", "currency", "assets", "total_realized", "total_unrealized"} <= set(data)
    assert (data["method"], data["currency"]) == ("average", "USD")
    first = data["assets"][0]
    assert {
        k: first[k]
        for k in (
            "asset",
            "amount",
            "cost_basis",
            "realized",
            "unrealized",
            "fees",
            "unknown_basis_amount",
        )
    } == {
        "asset": "BTC",
        "amount": "0.5",
        "cost_basis": "20010",
        "realized": "4965",
        "unrealized": "9990",
        "fees": "45",
        "unknown_basis_amount": "0",
    }
    assert (data["total_realized"], data["total_unrealized"]) == ("4965", "9990")
    assert data["flags"][0]["kind"] == "unknown_basis_deposit"
    assert "ETH: 2 deposited with no matching withdrawal" in data["notes"][0]


def test_parse_method() -> None:
    assert parse_method(" FIFO ") is CostMethod.FIFO
    with pytest.raises(UsageError) as info:
        parse_method("lifo")
    assert "--method average" in info.value.hint


def test_usd_rate_from_own_fills_then_snapshots(app: App) -> None:
    with app.db().session() as store:
        store.history.add_trades(
            [
                # 10 min after a's BTC buy @ 40000: the rate is 40000 -> ETH costs 0.5x40000.
                trade("a", "buy", "ETH/BTC", "10", "0.05", 10),
                # 5 h later: no fill within an hour; the last snapshot price of BTC (45000).
                trade("a", "buy", "ETH/BTC", "1", "0.05", 300),
            ]
        )
    set_prices(app, BTC=("45000", None))
    record_snapshots(
        app,
        account="a",
        results=[ok(Source.TRADING, BTC="0.5")],
        at=NOW - timedelta(days=10) + timedelta(minutes=200),
    )
    set_prices(app, BTC=("60000", "58000"))
    report = pnl_report(app)
    eth = report.asset("ETH")
    # Lots: 10 ETH costing 20000, 1 ETH costing 2250; the holdings (2 ETH) keep the newest
    # 2 after dropping the 9 oldest known units (plus the 2 unknown deposited first).
    assert eth.unknown_basis_amount == 0
    assert eth.cost_basis == D(20000) * D(1) / D(10) + D(2250)


def test_usd_rates_ignore_derivative_fills(app: App) -> None:
    from dataclasses import replace

    option = replace(
        trade("a", "buy", "BTC/USD", "1", "0.05", 11),  # a BTC call: the price is a premium
        trade_id="a-option",
        inst_type="OPTION",
    )
    with app.db().session() as store:
        store.history.add_trades([option, trade("a", "buy", "ETH/BTC", "10", "0.05", 12)])
    eth = pnl_report(app).asset("ETH")
    # The BTC rate is the spot fill 12 min earlier (40000), not the option 1 min earlier
    # (0.05): 10 ETH cost 0.5 BTC = 20000 USD. 2 ETH are held, so the basis is 2/10 of it.
    assert eth.cost_basis == D(20000) * D(2) / D(10)


def test_changes_and_movers_fall_back_to_open24h(app: App) -> None:
    result = changes(app, now=NOW)
    # No snapshot 24h ago: 24h uses open24h: 0.5x58000 + 1000 + 2x3100 = 36200; now 37000.
    assert (result["24h"].value, result["24h"].pct, result["24h"].basis) == (
        D(800),
        D("2.21"),
        ChangeBasis.OPEN24H,
    )
    assert all(result[k].basis is ChangeBasis.NONE for k in ("1h", "7d", "30d", "all"))
    gainers, losers = movers(app, now=NOW)
    # BTC 2000/58000 = +3.45 %; ETH -100/3100 = -3.23 %; USDT is cash.
    assert [(m.asset, m.change_pct) for m in gainers] == [("BTC", D("3.45"))]
    assert [(m.asset, m.change_pct) for m in losers] == [("ETH", D("-3.23"))]


def test_summary_extras_from_history(app: App) -> None:
    set_prices(app, BTC=("50000", "49000"))
    record_snapshots(
        app, account="a", results=[ok(Source.TRADING, BTC="0.5", USDT="1000")],
        at=NOW - timedelta(hours=30),
    )  # fmt: skip
    record_snapshots(
        app, account="b", results=[ok(Source.FUNDING, ETH="2")], at=NOW - timedelta(hours=30)
    )
    set_prices(app, BTC=("60000", "58000"))
    extras = summary_extras(app, portfolio_view(app), now=NOW)
    # 30 h ago: 0.5x50000 + 1000 + 2x3000 = 32000; now 37000: +5000, 15.625 % -> 15.62.
    assert extras["change"]["24h"] == {"value": "5000", "pct": "15.62", "basis": "history"}
    assert extras["change"]["1h"]["basis"] == "history"
    assert extras["change"]["all"] == {"value": "5000", "pct": "15.62", "basis": "history"}
    assert extras["change"]["7d"] == {"value": None, "pct": None, "basis": "none"}
    assert list(extras["change"]) == ["1h", "24h", "7d", "30d", "90d", "1y", "all"]
    # BTC 50000 -> 60000 (+20 %) from the snapshot; ETH 3000 -> 3000: neither.
    assert extras["top_gainers"] == [
        {"asset": "BTC", "change_pct": "20", "value": "30000", "window": "24h", "basis": "history"}
    ]
    assert extras["top_losers"] == []


def test_positions_ranked_by_unrealized_pnl(app: App) -> None:
    data = pnl_to_json(pnl_report(app))
    # a holds 0.5 BTC of the lot bought at 40000 + 20 fee: basis 20010, value 30000.
    assert data["top_pnl_gainers"] == [
        {"asset": "BTC", "pnl": "9990", "pct": "49.93", "value": "30000"}
    ]
    assert data["top_pnl_losers"] == []  # b's ETH has an unknown basis: not ranked
