"""Exact decimals, UTC datetimes and prices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text

from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.records import Price
from keyfolio.storage import Database

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
EXACT = [
    "0.000000012345678901",
    "123456789012345678.5",
    "1.10",
    "-0.5",
    "99999999999999999999999999999999.000000000000000001",
    "0.00000000000000000000000000001",
]


def price(asset: str, usd: str, open24h_usd: Decimal | None = None) -> Price:
    return Price(
        asset=asset, usd=Decimal(usd), source=f"okx:{asset}-USDT", as_of=T0, open24h_usd=open24h_usd
    )


@pytest.mark.parametrize("value", EXACT)
def test_balance_amounts_round_trip_exactly(db: Database, value: str) -> None:
    with db.session() as store:
        store.add_account(spec=AccountSpec(exchange="okx", name="a"))
        store.record_sync(
            name="a",
            results=[SourceResult(Source.TRADING, SourceStatus.OK, {"BTC": Decimal(value)})],
            synced_at=T0,
        )
    with db.session() as store:
        (record,) = store.balances()
    assert record.amount == Decimal(value)
    assert format(record.amount, "f") == format(Decimal(value), "f")
    with db._get_engine().connect() as connection:
        stored = connection.execute(text("SELECT amount FROM balances")).scalar()
    assert stored == format(Decimal(value), "f")  # exact decimal text, no exponent, no float


@pytest.mark.parametrize("value", EXACT)
def test_prices_round_trip_exactly(db: Database, value: str) -> None:
    with db.session() as store:
        store.upsert_prices(prices=[price("BTC", value, open24h_usd=Decimal(value))])
    with db.session() as store:
        got = store.prices()["BTC"]
    assert (got.usd, got.open24h_usd) == (Decimal(value), Decimal(value))
    assert format(got.usd, "f") == format(Decimal(value), "f")


def test_datetimes_come_back_aware_utc(db: Database) -> None:
    plus_five = timezone(timedelta(hours=5, minutes=30))
    local = datetime(2025, 6, 1, 17, 30, 0, 123456, tzinfo=plus_five)
    with db.session() as store:
        store.add_account(spec=AccountSpec(exchange="okx", name="a"))
        store.record_sync(
            name="a",
            results=[SourceResult(Source.TRADING, SourceStatus.OK, {"BTC": Decimal(1)})],
            synced_at=local,
        )
        store.upsert_prices(prices=[Price("BTC", Decimal(1), "par", as_of=local)])
    with db.session() as store:
        stamps = [
            store.balances()[0].synced_at,
            store.source_states()[0].updated_at,
            store.source_states()[0].last_ok_at,
            store.get_account(name="a").last_sync,
            store.sync_runs()[0].started_at,
            store.prices()["BTC"].as_of,
            store.list_portfolios()[0].created_at,
        ]
    for stamp in stamps:
        assert stamp is not None
        assert stamp.tzinfo is not None and stamp.utcoffset() == timedelta(0)
    assert stamps[0] == local
    assert stamps[0].hour == 12 and stamps[0].microsecond == 123456


def test_naive_datetimes_are_refused(db: Database) -> None:
    naive = datetime(2025, 1, 1)
    with db.session() as store:
        store.add_account(spec=AccountSpec(exchange="okx", name="a"))
        with pytest.raises(ValueError, match="naive"):
            store.record_sync(name="a", results=[], synced_at=naive)
        with pytest.raises(ValueError, match="naive"):
            store.upsert_prices(prices=[Price("BTC", Decimal(1), "par", as_of=naive)])


def test_upsert_prices_inserts_and_replaces(db: Database) -> None:
    with db.session() as store:
        store.upsert_prices(prices=[price("BTC", "60000", open24h_usd=Decimal("59000"))])
        store.upsert_prices(prices=[price("ETH", "3000")])
    later = T0 + timedelta(minutes=5)
    with db.session() as store:
        store.upsert_prices(
            prices=[
                Price("BTC", Decimal("61000.25"), "okx:BTC-USDT", later),
                price("SOL", "150"),
                price("SOL", "151"),  # the last one of an asset wins
            ]
        )
    with db.session() as store:
        got = store.prices()
    assert sorted(got) == ["BTC", "ETH", "SOL"]
    assert got["BTC"] == Price("BTC", Decimal("61000.25"), "okx:BTC-USDT", later, None)
    assert got["ETH"].usd == Decimal("3000")
    assert got["SOL"].usd == Decimal("151")


def test_upsert_many_prices(db: Database) -> None:
    many = [price(f"A{i}", f"{i}.5") for i in range(1200)]
    with db.session() as store:
        store.upsert_prices(prices=many[:700])
        store.upsert_prices(prices=iter(many))
    with db.session() as store:
        got = store.prices()
    assert len(got) == 1200
    assert got["A1199"].usd == Decimal("1199.5")


def test_prices_refuse_floats(db: Database) -> None:
    with db.session() as store:
        with pytest.raises(TypeError, match="float"):
            store.upsert_prices(prices=[Price("BTC", 1.5, "x", T0)])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="asset"):
            store.upsert_prices(prices=[price("", "1")])
        assert store.prices() == {}
