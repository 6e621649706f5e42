"""Store.record_sync / record_failure: atomic, never zeros over good data, stale marking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.records import BalanceRecord
from keyfolio.errors import NotFoundError
from keyfolio.storage import Database, Store

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)


def ok(source: Source = Source.TRADING, **amounts: str) -> SourceResult:
    return SourceResult(
        source=source,
        status=SourceStatus.OK,
        amounts={asset: Decimal(value) for asset, value in amounts.items()},
    )


def bad(
    source: Source = Source.FUNDING,
    status: SourceStatus = SourceStatus.FAILED,
    code: str | None = "50011",
) -> SourceResult:
    return SourceResult(
        source=source,
        status=status,
        error=f"{source.value} read failed",
        hint="try later",
        error_code=code,
    )


def amounts(store: Store, account: str = "a") -> dict[tuple[str, str], tuple[Decimal, bool]]:
    return {
        (b.source.value, b.asset): (b.amount, b.stale)
        for b in store.balances(account=account, include_excluded=True)
    }


@pytest.fixture
def synced(db: Database) -> Database:
    """Account ``a`` with good trading and funding balances synced at T0."""
    with db.session() as store:
        store.add_account(spec=AccountSpec(exchange="okx", name="a"))
        status = store.record_sync(
            name="a",
            results=[ok(BTC="1.5", USDT="100"), ok(Source.FUNDING, ETH="2")],
            synced_at=T0,
        )
    assert status == "ok"
    return db


def test_first_sync_writes_balances_states_and_account(synced: Database) -> None:
    with synced.session() as store:
        assert store.balances() == [
            BalanceRecord("a", Source.TRADING, "BTC", Decimal("1.5"), T0),
            BalanceRecord("a", Source.TRADING, "USDT", Decimal("100"), T0),
            BalanceRecord("a", Source.FUNDING, "ETH", Decimal("2"), T0),
        ]
        states = store.source_states(account="a")
        assert [(s.source, s.status, s.last_ok_at) for s in states] == [
            (Source.TRADING, SourceStatus.OK, T0),
            (Source.FUNDING, SourceStatus.OK, T0),
        ]
        account = store.get_account(name="a")
        assert (account.status, account.last_sync, account.last_error) == ("ok", T0, None)
        runs = store.sync_runs(account="a")
        assert [(r.status, r.started_at, r.finished_at) for r in runs] == [("ok", T0, T0)]


def test_ok_sync_replaces_source_and_drops_gone_and_zero_assets(synced: Database) -> None:
    with synced.session() as store:
        store.record_sync(name="a", results=[ok(BTC="2", SOL="3", USDT="0")], synced_at=T1)
    with synced.session() as store:
        assert amounts(store) == {
            ("trading", "BTC"): (Decimal("2"), False),
            ("trading", "SOL"): (Decimal("3"), False),
            ("funding", "ETH"): (Decimal("2"), False),  # not in this sync: untouched
        }
        synced_at = {(b.source, b.asset): b.synced_at for b in store.balances()}
        assert synced_at[(Source.TRADING, "BTC")] == T1
        assert synced_at[(Source.FUNDING, "ETH")] == T0


def test_failed_source_keeps_last_good_amounts_stale(synced: Database) -> None:
    with synced.session() as store:
        status = store.record_sync(name="a", results=[ok(BTC="1.6"), bad()], synced_at=T1)
    assert status == "partial"
    with synced.session() as store:
        assert amounts(store) == {
            ("trading", "BTC"): (Decimal("1.6"), False),
            ("funding", "ETH"): (Decimal("2"), True),
        }
        funding = store.source_states(account="a")[1]
        assert funding.status is SourceStatus.FAILED
        assert (funding.error_code, funding.error, funding.hint) == (
            "50011",
            "funding read failed",
            "try later",
        )
        assert funding.updated_at == T1
        assert funding.last_ok_at == T0
        account = store.get_account(name="a")
        assert (account.status, account.last_sync) == ("partial", T1)
        assert (account.last_error_code, account.last_error, account.last_hint) == (
            "50011",
            "funding read failed",
            "try later",
        )


def test_failed_source_with_zero_amounts_never_writes_zeros(synced: Database) -> None:
    broken = SourceResult(
        source=Source.FUNDING,
        status=SourceStatus.FAILED,
        amounts={"ETH": Decimal("0")},
        error="timeout",
    )
    with synced.session() as store:
        store.record_sync(name="a", results=[ok(BTC="1.5", USDT="100"), broken], synced_at=T1)
    with synced.session() as store:
        assert amounts(store)[("funding", "ETH")] == (Decimal("2"), True)


def test_recovery_clears_stale_and_error(synced: Database) -> None:
    with synced.session() as store:
        store.record_sync(name="a", results=[ok(BTC="1.5"), bad()], synced_at=T1)
    with synced.session() as store:
        status = store.record_sync(
            name="a", results=[ok(BTC="1.5"), ok(Source.FUNDING, ETH="2.5")], synced_at=T2
        )
    assert status == "ok"
    with synced.session() as store:
        assert all(not stale for _, stale in amounts(store).values())
        account = store.get_account(name="a")
        assert (account.last_error_code, account.last_error, account.last_hint) == (
            None,
            None,
            None,
        )
        assert [s.last_ok_at for s in store.source_states(account="a")] == [T2, T2]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([SourceStatus.OK, SourceStatus.OK], "ok"),
        ([SourceStatus.OK, SourceStatus.UNSUPPORTED], "ok"),
        ([SourceStatus.OK, SourceStatus.NOT_PERMITTED], "partial"),
        ([SourceStatus.OK, SourceStatus.FAILED], "partial"),
        ([SourceStatus.FAILED, SourceStatus.NOT_PERMITTED], "failed"),
        ([SourceStatus.FAILED, SourceStatus.UNSUPPORTED], "failed"),
        ([SourceStatus.UNSUPPORTED, SourceStatus.UNSUPPORTED], "ok"),
    ],
)
def test_account_status_rules(
    synced: Database, statuses: list[SourceStatus], expected: str
) -> None:
    sources = [Source.TRADING, Source.FUNDING]  # every source the account has
    results = [
        ok(source, BTC="1") if status is SourceStatus.OK else bad(source, status, code=None)
        for source, status in zip(sources, statuses, strict=True)
    ]
    with synced.session() as store:
        assert store.record_sync(name="a", results=results, synced_at=T1) == expected
        assert store.get_account(name="a").status == expected
        assert store.sync_runs(account="a", limit=1)[0].status == expected


def test_unsupported_is_not_the_reported_error(synced: Database) -> None:
    results = [
        ok(),
        bad(Source.SAVINGS, SourceStatus.UNSUPPORTED, code="u"),
        bad(Source.FUNDING, SourceStatus.NOT_PERMITTED, code="50120"),
    ]
    with synced.session() as store:
        assert store.record_sync(name="a", results=results, synced_at=T1) == "partial"
        assert store.get_account(name="a").last_error_code == "50120"
        assert store.sync_runs(account="a", limit=1)[0].error_code == "50120"


def test_sync_is_atomic_when_the_transaction_fails_after_it(synced: Database) -> None:
    with pytest.raises(RuntimeError, match="crash"), synced.session() as store:
        store.record_sync(name="a", results=[ok(BTC="999"), ok(Source.FUNDING)], synced_at=T1)
        raise RuntimeError("crash after record_sync")
    with synced.session() as store:
        assert amounts(store) == {
            ("trading", "BTC"): (Decimal("1.5"), False),
            ("trading", "USDT"): (Decimal("100"), False),
            ("funding", "ETH"): (Decimal("2"), False),
        }
        account = store.get_account(name="a")
        assert (account.status, account.last_sync) == ("ok", T0)
        assert len(store.sync_runs(account="a")) == 1


def test_sync_with_a_bad_amount_midway_writes_nothing(synced: Database) -> None:
    poisoned = SourceResult(
        source=Source.FUNDING,
        status=SourceStatus.OK,
        amounts={"ETH": 2.5},  # type: ignore[dict-item]  # a float must never be stored
    )
    with synced.session() as store:
        with pytest.raises(TypeError, match="float"):
            store.record_sync(name="a", results=[ok(BTC="7"), poisoned], synced_at=T1)
        # Validation runs before any write: even caught, nothing of the sync landed.
        assert amounts(store)[("trading", "BTC")] == (Decimal("1.5"), False)
    with synced.session() as store:
        assert amounts(store)[("trading", "BTC")] == (Decimal("1.5"), False)
        assert store.get_account(name="a").last_sync == T0


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_sync_refuses_non_finite_amounts(synced: Database, value: str) -> None:
    with synced.session() as store, pytest.raises(ValueError, match="finite"):
        store.record_sync(name="a", results=[ok(BTC=value)], synced_at=T1)


def test_record_sync_unknown_account(db: Database) -> None:
    with db.session() as store, pytest.raises(NotFoundError):
        store.record_sync(name="ghost", results=[ok(BTC="1")], synced_at=T0)


def test_record_sync_started_at_goes_to_the_log(synced: Database) -> None:
    with synced.session() as store:
        store.record_sync(name="a", results=[ok(BTC="1")], synced_at=T2, started_at=T1)
        run = store.sync_runs(account="a")[0]
    assert (run.started_at, run.finished_at) == (T1, T2)


def test_record_failure_marks_everything_stale_and_keeps_amounts(synced: Database) -> None:
    with synced.session() as store:
        store.record_failure(
            name="a", error_code="50111", error="Invalid OK-ACCESS-KEY", hint="re-add", at=T1
        )
    with synced.session() as store:
        assert amounts(store) == {
            ("trading", "BTC"): (Decimal("1.5"), True),
            ("trading", "USDT"): (Decimal("100"), True),
            ("funding", "ETH"): (Decimal("2"), True),
        }
        for state in store.source_states(account="a"):
            assert state.status is SourceStatus.FAILED
            assert (state.error_code, state.error, state.hint) == (
                "50111",
                "Invalid OK-ACCESS-KEY",
                "re-add",
            )
            assert (state.updated_at, state.last_ok_at) == (T1, T0)
        account = store.get_account(name="a")
        # last_sync stays at the last time data came in (T0), not the failed attempt (T1)
        assert (account.status, account.last_sync, account.last_error_code) == (
            "failed",
            T0,
            "50111",
        )
        assert account.last_hint == "re-add"
        assert [(r.status, r.error_code) for r in store.sync_runs(account="a")] == [
            ("failed", "50111"),
            ("ok", None),
        ]


def test_record_failure_of_a_new_account(db: Database) -> None:
    with db.session() as store:
        store.add_account(spec=AccountSpec(exchange="okx", name="a"))
        store.record_failure(name="a", error_code=None, error="network down", hint="h", at=T0)
        assert store.get_account(name="a").status == "failed"
        assert store.balances(account="a") == []
        assert store.source_states(account="a") == []
        with pytest.raises(NotFoundError):
            store.record_failure(name="ghost", error_code=None, error="e", hint="h", at=T0)


def test_balances_filters(synced: Database) -> None:
    with synced.session() as store:
        store.add_portfolio(name="p")
        store.add_account(spec=AccountSpec(exchange="okx", name="b", portfolio="p"))
        store.add_account(spec=AccountSpec(exchange="okx", name="c", import_balance=False))
        store.record_sync(name="b", results=[ok(DOGE="10")], synced_at=T0)
        store.record_sync(name="c", results=[ok(XRP="5")], synced_at=T0)
    with synced.session() as store:
        assert {b.account for b in store.balances()} == {"a", "b"}
        assert {b.account for b in store.balances(include_excluded=True)} == {"a", "b", "c"}
        assert {b.account for b in store.balances(portfolio="p")} == {"b"}
        assert {b.account for b in store.balances(portfolio="main")} == {"a"}
        assert store.balances(account="c") == []
        assert [b.asset for b in store.balances(account="c", include_excluded=True)] == ["XRP"]
        with pytest.raises(NotFoundError):
            store.balances(portfolio="nope")
        with pytest.raises(NotFoundError):
            store.balances(account="nope")
        with pytest.raises(NotFoundError):
            store.source_states(account="nope")
        with pytest.raises(NotFoundError):
            store.sync_runs(account="nope")
        assert [s.account for s in store.source_states()] == ["a", "a", "b", "c"]


def test_balances_where_amount_builds_records_for_the_accepted_amounts(synced: Database) -> None:
    many = {f"A{n}": str(Decimal(n) / 8) for n in range(1, 1201)}  # more than one IN chunk
    with synced.session() as store:
        store.add_account(spec=AccountSpec(exchange="okx", name="b", import_balance=False))
        store.record_sync(name="b", results=[ok(**many), ok(Source.FUNDING, BTC="3")], synced_at=T0)
    seen: list[Decimal] = []

    def odd(amount: Decimal) -> bool:
        seen.append(amount)
        return amount % 2 == 1

    with synced.session() as store:
        every = store.balances(include_excluded=True)
        assert store.balances(include_excluded=True, where_amount=odd) == [
            b for b in every if b.amount % 2 == 1
        ]
        assert sorted(seen) == sorted(b.amount for b in every)  # each amount, exactly
        assert store.balances(account="b", where_amount=odd) == []  # excluded
        only_b = store.balances(account="b", include_excluded=True, where_amount=odd)
        assert [(b.source, b.asset) for b in only_b][:2] == [
            (Source.TRADING, "A1000"),  # by account, source and asset, as without the filter
            (Source.TRADING, "A1016"),
        ]
        assert [b.asset for b in store.balances(portfolio="main", where_amount=odd)] == []
        assert store.balances(where_amount=lambda amount: amount == Decimal("1.5")) == [
            b for b in every if b.account == "a" and b.asset == "BTC"
        ]


def test_a_sync_where_every_source_failed_keeps_last_sync(synced: Database) -> None:
    with synced.session() as store:
        status = store.record_sync(
            name="a", results=[bad(Source.TRADING), bad(Source.FUNDING)], synced_at=T1
        )
        assert status == "failed"
        assert store.get_account(name="a").last_sync == T0
    with synced.session() as store:
        store.record_sync(name="a", results=[ok(BTC="1"), bad(Source.FUNDING)], synced_at=T2)
        assert store.get_account(name="a").last_sync == T2


def test_a_one_source_sync_keeps_the_status_of_the_other_sources(synced: Database) -> None:
    with synced.session() as store:
        assert store.record_sync(name="a", results=[ok(BTC="1"), bad()], synced_at=T1) == "partial"
    with synced.session() as store:  # a live push re-reads only the trading source
        status = store.record_sync(name="a", results=[ok(BTC="2")], synced_at=T2, log_run=False)
        assert status == "partial"
        account = store.get_account(name="a")
        assert account.status == "partial" and account.last_error == "funding read failed"
        assert amounts(store)[("funding", "ETH")] == (Decimal("2"), True)
        assert len(store.sync_runs(account="a")) == 2  # the push was not logged as a sync
    with synced.session() as store:
        assert store.record_sync(name="a", results=[ok(Source.FUNDING, ETH="3")], synced_at=T2) == (
            "ok"
        )


def test_a_sync_reads_its_rows_once_and_writes_in_one_flush(synced: Database) -> None:
    """Per account and sync: the account, its balances of the sources written and its source
    states are each read once (a 50-account sync made ~20 statements and 9 flushes per account
    when each source read its own rows)."""
    from sqlalchemy import event

    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    engine = synced._get_engine()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with synced.session() as store:
            store.record_sync(
                name="a",
                results=[
                    ok(BTC="1.6", USDT="90"),
                    ok(Source.FUNDING, ETH="3"),
                    ok(Source.SAVINGS, USDT="5"),
                    bad(Source.ONCHAIN_EARN),
                ],
                synced_at=T1,
            )
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements.count("SELECT") == 3
    with synced.session() as store:
        assert amounts(store) == {
            ("trading", "BTC"): (Decimal("1.6"), False),
            ("trading", "USDT"): (Decimal("90"), False),
            ("funding", "ETH"): (Decimal("3"), False),
            ("savings", "USDT"): (Decimal("5"), False),
        }
