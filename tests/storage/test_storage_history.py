"""HistoryRepo on every backend: insert-or-ignore, exact decimals, cursors, cascade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.history import LedgerEntry, Trade, TradeSide, Transfer, TransferKind
from keyfolio.errors import NotFoundError
from keyfolio.storage import Database

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def trade(account: str, trade_id: str, minutes: int = 0, **changes: object) -> Trade:
    values: dict[str, object] = {
        "account": account,
        "trade_id": trade_id,
        "at": T0 + timedelta(minutes=minutes),
        "base": "BTC",
        "quote": "USDT",
        "side": TradeSide.BUY,
        "amount": Decimal("0.000000000000000001"),
        "price": Decimal("60000.123456789012345678"),
        "fee": Decimal("-0.5"),
        "fee_asset": "USDT",
    }
    values.update(changes)
    return Trade(**values)  # type: ignore[arg-type]


@pytest.fixture
def accounts(db: Database) -> Database:
    with db.session() as store:
        store.add_account(spec=AccountSpec(exchange="okx", name="a"))
        store.add_account(spec=AccountSpec(exchange="manual", name="b"))
    return db


def test_trades_insert_or_ignore_and_read_sorted_exactly(accounts: Database) -> None:
    with accounts.session() as store:
        assert store.history.add_trades([trade("a", "2", 5), trade("a", "1", 5)]) == 2
        assert store.history.add_trades([trade("a", "1", 5), trade("b", "1", 1)]) == 1
        assert store.history.add_trades([trade("b", "9"), trade("b", "9")]) == 1  # within a batch
        assert store.history.add_trades([]) == 0
    with accounts.session(read_only=True) as store:
        everything = store.history.trades()
        only_a = store.history.trades(accounts=["a"])
    assert [(t.account, t.trade_id) for t in everything] == [
        ("b", "9"), ("b", "1"), ("a", "1"), ("a", "2")
    ]  # fmt: skip
    assert only_a[0] == trade("a", "1", 5)  # every field round-trips, Decimals exact


def test_transfers_update_status_and_ledger_since(accounts: Database) -> None:
    pending = Transfer("a", "d1", T0, TransferKind.DEPOSIT, "ETH", Decimal("1.5"), status="pending")
    same_id_other_kind = Transfer("a", "d1", T0, TransferKind.WITHDRAWAL, "ETH", Decimal(1))
    entries = [
        LedgerEntry(
            "a", str(i), T0 + timedelta(days=i), "BTC", Decimal("-0.1"), None, "trade", "trading"
        )  # fmt: skip
        for i in range(3)
    ]
    funding_same_id = LedgerEntry("a", "0", T0, "BTC", Decimal(1), Decimal(1), "deposit", "funding")
    with accounts.session() as store:
        assert store.history.add_transfers([pending, same_id_other_kind]) == 2
        done = Transfer("a", "d1", T0, TransferKind.DEPOSIT, "ETH", Decimal("1.5"), txid="0xab")
        assert store.history.add_transfers([done]) == 0
        assert store.history.add_ledger([*entries, funding_same_id]) == 4
        assert store.history.add_ledger(entries) == 0
    with accounts.session(read_only=True) as store:
        transfers = store.history.transfers(accounts=["a"])
        recent = store.history.ledger(since=T0 + timedelta(days=1))
    deposit = next(t for t in transfers if t.kind is TransferKind.DEPOSIT)
    assert deposit.status == "ok" and deposit.txid == "0xab"
    assert [e.entry_id for e in recent] == ["1", "2"]


def test_cursors_round_trip_and_cascade_with_the_account(accounts: Database) -> None:
    with accounts.session() as store:
        assert store.history.get_cursor(account="a", kind="trades:SPOT") is None
        store.history.set_cursor(account="a", kind="trades:SPOT", cursor='{"done": 1}')
        store.history.set_cursor(account="a", kind="trades:SPOT", cursor='{"done": 2}')
        store.history.add_trades([trade("a", "1")])
    with accounts.session() as store:
        assert store.history.cursors(account="a") == {"trades:SPOT": '{"done": 2}'}
        store.remove_account(name="a")
    with accounts.session(read_only=True) as store:
        assert store.history.trades() == []
        with pytest.raises(NotFoundError):
            store.history.cursors(account="a")


def test_unknown_account_and_floats_are_refused(accounts: Database) -> None:
    with accounts.session() as store:
        with pytest.raises(NotFoundError):
            store.history.add_trades([trade("nobody", "1")])
        with pytest.raises(TypeError):
            store.history.add_trades([trade("a", "1", amount=0.1)])
        with pytest.raises(NotFoundError):
            store.history.trades(accounts=["nobody"])
