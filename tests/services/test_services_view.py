"""The portfolio view behind `keyfolio show`, on a real SQLite database (no network)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.records import Price
from keyfolio.services.context import App
from keyfolio.services.view import portfolio_view, view_to_json

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def ok(source: Source, **amounts: str) -> SourceResult:
    return SourceResult(source, SourceStatus.OK, {k: Decimal(v) for k, v in amounts.items()})


@pytest.fixture
def app(tmp_path: Path) -> App:
    app = App(settings=Settings(home=tmp_path), password=lambda **_: "unused")
    with app.db().session() as store:
        store.add_account(spec=AccountSpec(exchange="okx", name="a"))
        store.add_account(spec=AccountSpec(exchange="okx", name="b"))
        store.record_sync(
            name="a",
            synced_at=T0,
            results=[ok(Source.TRADING, BTC="0.5", USDT="100"), ok(Source.FUNDING, ZZZ="7")],
        )
        store.record_sync(name="b", synced_at=T0, results=[ok(Source.SAVINGS, USDT="900")])
        store.upsert_prices(
            prices=[
                Price("BTC", Decimal("60000"), "okx:BTC-USDT", T0 + timedelta(seconds=1)),
                Price("USDT", Decimal(1), "par", T0 + timedelta(seconds=1)),
            ]
        )
    yield app
    app.close()


def test_holdings_are_summed_across_accounts_valued_and_sorted(app: App) -> None:
    view = portfolio_view(app)
    assert [h.asset for h in view.holdings] == ["BTC", "USDT", "ZZZ"]  # by value, unpriced last
    usdt = view.holdings[1]
    assert usdt.amount == Decimal(1000) and usdt.value == Decimal(1000)
    assert {(s.account, s.source) for s in usdt.sources} == {
        ("a", Source.TRADING),
        ("b", Source.SAVINGS),
    }
    assert view.total_value == Decimal(31000)
    assert view.unpriced == ["ZZZ"]
    assert view.share(view.holdings[0]) == Decimal("96.8")  # 96.77..., half-even to 0.1
    assert not view.is_partial


def test_import_balance_off_leaves_the_account_out_of_totals(app: App) -> None:
    with app.db().session() as store:
        store.set_import_balance(name="b", enabled=False)
    view = portfolio_view(app)
    assert view.total_value == Decimal(30100)
    assert [a.spec.name for a in view.accounts] == ["a", "b"]  # still listed


def test_failed_source_is_partial_and_stale_not_zero(app: App) -> None:
    failed = SourceResult(Source.FUNDING, SourceStatus.FAILED, error="down", hint="later")
    with app.db().session() as store:
        store.record_sync(
            name="a",
            synced_at=T0 + timedelta(minutes=5),
            results=[ok(Source.TRADING, BTC="0.5", USDT="100"), failed],
        )
    view = portfolio_view(app)
    assert view.is_partial
    zzz = next(h for h in view.holdings if h.asset == "ZZZ")
    assert zzz.amount == Decimal(7) and zzz.stale


def test_a_price_older_than_the_max_age_is_stale(app: App) -> None:
    fresh = portfolio_view(app, now=T0 + timedelta(minutes=60, seconds=1))
    assert not fresh.has_stale_prices and fresh.stale_prices == []
    later = T0 + timedelta(minutes=60, seconds=2)
    view = portfolio_view(app, now=later)
    assert view.stale_prices == ["BTC", "USDT"] and view.has_stale_prices
    rows = {row["asset"]: row for row in view_to_json(view)["holdings"]}
    assert rows["BTC"]["price_stale"] is True and rows["ZZZ"]["price_stale"] is False
    assert rows["BTC"]["price_as_of"] == "2026-11-01T12:00:01Z"
    app.settings = replace(app.settings, price_max_age_minutes=5.0)
    assert portfolio_view(app, now=T0 + timedelta(minutes=5, seconds=2)).has_stale_prices
    assert not portfolio_view(app, now=T0 + timedelta(minutes=5)).has_stale_prices


def test_stablecoins_at_par_are_named(app: App) -> None:
    assert portfolio_view(app).at_par == ["USDT"]


def test_json_shape_and_decimal_strings(app: App) -> None:
    data = view_to_json(portfolio_view(app, now=T0))
    assert list(data) == [
        "portfolio",
        "currency",
        "as_of",
        "total_value",
        "unpriced",
        "stale_prices",
        "holdings",
        "accounts",
        "refused",
    ]
    assert data["refused"] == []
    assert data["total_value"] == "31000" and data["as_of"] == "2026-11-01T12:00:00Z"
    assert data["holdings"][0] == {
        "asset": "BTC",
        "amount": "0.5",
        "price": "60000",
        "price_source": "okx:BTC-USDT",
        "price_as_of": "2026-11-01T12:00:01Z",
        "price_stale": False,
        "value": "30000",
        "sources": [{"account": "a", "source": "trading", "amount": "0.5"}],
    }
    assert set(data["accounts"][0]) == {
        "name",
        "exchange",
        "region",
        "import_balance",
        "status",
        "last_sync",
        "sources",
    }
