"""Store: portfolios and accounts, including every error case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from keyfolio.domain.accounts import AccountSpec, Region
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.errors import ConflictError, NotFoundError, UsageError
from keyfolio.storage import DEFAULT_PORTFOLIO, Database

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def spec(name: str, **changes: object) -> AccountSpec:
    return AccountSpec(exchange="okx", name=name, **changes)  # type: ignore[arg-type]


def ok(**amounts: str) -> SourceResult:
    return SourceResult(
        source=Source.TRADING,
        status=SourceStatus.OK,
        amounts={asset: Decimal(value) for asset, value in amounts.items()},
    )


# -- portfolios -------------------------------------------------------------------------


def test_add_and_list_portfolios(db: Database) -> None:
    before = datetime.now(UTC)
    with db.session() as store:
        added = store.add_portfolio(name="long-term")
    assert added.name == "long-term"
    assert added.created_at.tzinfo is not None and added.created_at >= before
    with db.session() as store:
        listed = store.list_portfolios()
        assert [p.name for p in listed] == ["long-term", DEFAULT_PORTFOLIO]
        assert listed[0] == store.get_portfolio(name="long-term")
        assert listed[0].created_at == added.created_at


def test_add_portfolio_conflict(db: Database) -> None:
    with db.session() as store, pytest.raises(ConflictError) as caught:
        store.add_portfolio(name=DEFAULT_PORTFOLIO)
    assert "'main' already exists" in caught.value.message


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_add_portfolio_bad_name(db: Database, name: str) -> None:
    with db.session() as store, pytest.raises(UsageError):
        store.add_portfolio(name=name)


def test_get_portfolio_not_found_has_hint(db: Database) -> None:
    with db.session() as store, pytest.raises(NotFoundError) as caught:
        store.get_portfolio(name="nope")
    assert "'nope'" in caught.value.message
    assert "keyfolio portfolio list" in caught.value.hint


def test_rename_portfolio(db: Database) -> None:
    with db.session() as store:
        store.add_portfolio(name="old")
        store.add_account(spec=spec("a", portfolio="old"))
        store.rename_portfolio(old="old", new="new")
        store.rename_portfolio(old="new", new="new")  # no-op
    with db.session() as store:
        assert [p.name for p in store.list_portfolios()] == [DEFAULT_PORTFOLIO, "new"]
        assert store.get_account(name="a").portfolio == "new"


def test_rename_portfolio_errors(db: Database) -> None:
    with db.session() as store:
        store.add_portfolio(name="a")
        store.add_portfolio(name="b")
        with pytest.raises(NotFoundError):
            store.rename_portfolio(old="nope", new="c")
        with pytest.raises(ConflictError, match="already exists"):
            store.rename_portfolio(old="a", new="b")
        with pytest.raises(ConflictError, match="cannot be renamed"):
            store.rename_portfolio(old=DEFAULT_PORTFOLIO, new="c")
        with pytest.raises(UsageError):
            store.rename_portfolio(old="a", new="")
    with db.session() as store:
        assert [p.name for p in store.list_portfolios()] == ["a", "b", DEFAULT_PORTFOLIO]


def test_remove_portfolio(db: Database) -> None:
    with db.session() as store:
        store.add_portfolio(name="gone")
    with db.session() as store:
        store.remove_portfolio(name="gone")
    with db.session() as store:
        assert [p.name for p in store.list_portfolios()] == [DEFAULT_PORTFOLIO]
        with pytest.raises(NotFoundError):
            store.remove_portfolio(name="gone")


def test_remove_portfolio_refuses_main_and_non_empty(db: Database) -> None:
    with db.session() as store:
        store.add_portfolio(name="busy")
        store.add_account(spec=spec("b", portfolio="busy"))
        store.add_account(spec=spec("a", portfolio="busy"))
        with pytest.raises(ConflictError) as caught:
            store.remove_portfolio(name="busy")
        assert "2 account(s): a, b" in caught.value.message
        assert "keyfolio account move" in caught.value.hint
        with pytest.raises(ConflictError, match="cannot be removed"):
            store.remove_portfolio(name=DEFAULT_PORTFOLIO)
        store.move_account(name="a", portfolio=DEFAULT_PORTFOLIO)
        store.move_account(name="b", portfolio=DEFAULT_PORTFOLIO)
        store.remove_portfolio(name="busy")
    with db.session() as store:
        assert [p.name for p in store.list_portfolios()] == [DEFAULT_PORTFOLIO]


# -- accounts ---------------------------------------------------------------------------


def test_add_account_round_trips_every_field(db: Database) -> None:
    full = AccountSpec(
        exchange="okx",
        name="eu",
        region=Region.EEA,
        demo=True,
        api_url="http://127.0.0.1:8080",
        portfolio=DEFAULT_PORTFOLIO,
        import_balance=False,
        extra={"note": "savings"},
    )
    with db.session() as store:
        stored = store.add_account(spec=full)
    assert stored == full
    with db.session() as store:
        assert store.get_account(name="eu") == full
        assert store.list_accounts() == [full]


def test_add_account_defaults(db: Database) -> None:
    with db.session() as store:
        stored = store.add_account(spec=spec("a"))
    assert stored.status == "new"
    assert stored.portfolio == DEFAULT_PORTFOLIO
    assert stored.region is Region.GLOBAL
    assert stored.import_balance is True
    assert stored.last_sync is None


def test_add_account_errors(db: Database) -> None:
    with db.session() as store:
        store.add_account(spec=spec("a"))
        with pytest.raises(ConflictError) as caught:
            store.add_account(spec=spec("a"))
        assert "keyfolio account remove a" in caught.value.hint
        with pytest.raises(NotFoundError, match="portfolio"):
            store.add_account(spec=spec("b", portfolio="nope"))
        with pytest.raises(UsageError):
            store.add_account(spec=spec(""))
        with pytest.raises(UsageError):
            store.add_account(spec=spec("c", status="weird"))
        with pytest.raises(UsageError):
            store.add_account(spec=AccountSpec(exchange="", name="d"))
    with db.session() as store:
        assert [a.name for a in store.list_accounts()] == ["a"]


def test_get_account_not_found_has_hint(db: Database) -> None:
    with db.session() as store, pytest.raises(NotFoundError) as caught:
        store.get_account(name="ghost")
    assert "'ghost'" in caught.value.message
    assert "keyfolio account list" in caught.value.hint


def test_list_accounts_by_portfolio(db: Database) -> None:
    with db.session() as store:
        store.add_portfolio(name="p")
        store.add_account(spec=spec("z"))
        store.add_account(spec=spec("y", portfolio="p"))
        store.add_account(spec=spec("x"))
        assert [a.name for a in store.list_accounts()] == ["x", "y", "z"]
        assert [a.name for a in store.list_accounts(portfolio="main")] == ["x", "z"]
        assert [a.name for a in store.list_accounts(portfolio="p")] == ["y"]
        with pytest.raises(NotFoundError):
            store.list_accounts(portfolio="nope")


def test_remove_account_deletes_its_data(db: Database) -> None:
    with db.session() as store:
        store.add_account(spec=spec("a"))
        store.add_account(spec=spec("b"))
        store.record_sync(name="a", results=[ok(BTC="1")], synced_at=T0)
        store.record_sync(name="b", results=[ok(ETH="2")], synced_at=T0)
    with db.session() as store:
        store.remove_account(name="a")
    with db.session() as store:
        assert [a.name for a in store.list_accounts()] == ["b"]
        assert [(b.account, b.asset) for b in store.balances()] == [("b", "ETH")]
        assert [s.account for s in store.source_states()] == ["b"]
        assert [r.account for r in store.sync_runs()] == ["b"]
        with pytest.raises(NotFoundError):
            store.remove_account(name="a")
    with db.session() as store:  # the name is free again
        store.add_account(spec=spec("a"))
        assert store.balances(account="a") == []


def test_move_account(db: Database) -> None:
    with db.session() as store:
        store.add_portfolio(name="p")
        store.add_account(spec=spec("a"))
        store.move_account(name="a", portfolio="p")
    with db.session() as store:
        assert store.get_account(name="a").portfolio == "p"
        with pytest.raises(NotFoundError, match="portfolio"):
            store.move_account(name="a", portfolio="nope")
        with pytest.raises(NotFoundError, match="account"):
            store.move_account(name="nope", portfolio="p")


def test_set_import_balance(db: Database) -> None:
    with db.session() as store:
        store.add_account(spec=spec("a"))
        store.set_import_balance(name="a", enabled=False)
    with db.session() as store:
        assert store.get_account(name="a").import_balance is False
        store.set_import_balance(name="a", enabled=True)
    with db.session() as store:
        assert store.get_account(name="a").import_balance is True
        with pytest.raises(NotFoundError):
            store.set_import_balance(name="nope", enabled=True)


def test_account_last_sync_is_utc_aware(db: Database) -> None:
    local = datetime(2025, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    with db.session() as store:
        store.add_account(spec=spec("a", last_sync=local, status="ok"))
    with db.session() as store:
        got = store.get_account(name="a").last_sync
    assert got == local
    assert got is not None and got.utcoffset() == timedelta(0)
    assert got.hour == 12


def test_naive_datetime_is_refused(db: Database) -> None:
    with db.session() as store, pytest.raises(ValueError, match="naive"):
        store.add_account(spec=spec("a", last_sync=datetime(2025, 1, 1)))
