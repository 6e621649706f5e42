"""Reconciliation of imported history against reported balances: worked examples by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from keyfolio.analytics.reconcile import (
    LEDGER_KINDS,
    Cause,
    ReconcileReport,
    likely_cause,
    reconcile,
)
from keyfolio.domain.history import LedgerEntry, Trade, TradeSide, Transfer, TransferKind

T0 = datetime(2025, 11, 1, tzinfo=UTC)
D = Decimal


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def deposit(asset: str, amount: str, *, n: int = 0, status: str = "ok") -> Transfer:
    return Transfer("a", f"d{n}", at(n), TransferKind.DEPOSIT, asset, D(amount), status=status)


def withdrawal(asset: str, amount: str, fee: str = "0", *, n: int = 0, status: str = "ok"):
    return Transfer(
        "a", f"w{n}", at(n), TransferKind.WITHDRAWAL, asset, D(amount), D(fee), status=status
    )


def fill(side: str, amount: str, price: str, fee: str, fee_asset: str, *, n: int = 0, **kw):
    return Trade(
        "a",
        kw.get("trade_id", f"BTC-USDT:{n}"),
        at(n),
        kw.get("base", "BTC"),
        kw.get("quote", "USDT"),
        TradeSide(side),
        D(amount),
        D(price),
        D(fee),
        fee_asset,
        inst_type=kw.get("inst_type", "SPOT"),
    )


def bill(kind: str, asset: str, change: str, *, n: int = 0, bal: str | None = None, **kw):
    return LedgerEntry(
        "a",
        kw.get("entry_id", f"e{n}-{asset}"),
        at(n),
        asset,
        D(change),
        None if bal is None else D(bal),
        kind,
        kw.get("source", "funding"),
        kw.get("reference"),
    )


def run(
    reported: dict[str, str],
    *,
    trades: list[Trade] = (),  # type: ignore[assignment]
    transfers: list[Transfer] = (),  # type: ignore[assignment]
    ledger: list[LedgerEntry] = (),  # type: ignore[assignment]
    earn: dict[str, str] | None = None,
) -> ReconcileReport:
    return reconcile(
        ["a"],
        reported={("a", asset): D(amount) for asset, amount in reported.items()},
        earn={("a", asset): D(amount) for asset, amount in (earn or {}).items()},
        trades=list(trades),
        transfers=list(transfers),
        ledger=list(ledger),
    )


def test_a_history_that_explains_every_balance() -> None:
    # deposit 1 BTC and 30000 USDT; buy 0.5 BTC at 40000 (fee 0.0005 BTC); sell 0.1 BTC at
    # 41000 (fee 4.1 USDT); withdraw 0.2 BTC (fee 0.0001 BTC)
    report = run(
        {"BTC": "1.1994", "USDT": "14095.9"},
        transfers=[
            deposit("BTC", "1"),
            deposit("USDT", "30000"),
            withdrawal("BTC", "0.2", "0.0001", n=5),
        ],
        trades=[
            fill("buy", "0.5", "40000", "0.0005", "BTC", n=1),
            fill("sell", "0.1", "41000", "4.1", "USDT", n=2),
        ],
    )
    btc, usdt = report.account("a").assets
    assert (btc.asset, btc.reported, btc.implied, btc.difference, btc.cause) == (
        "BTC",
        D("1.1994"),
        D("1.1994"),
        0,
        None,
    )
    assert btc.flows == {
        "deposits": D(1),
        "trades": D("0.4"),
        "fees": D("-0.0005"),
        "withdrawals": D("-0.2001"),
    }
    assert (usdt.implied, usdt.cause) == (D("14095.9"), None)  # 30000 - 20000 + 4100 - 4.1
    assert report.differences == []
    assert report.account("a").since == T0


def test_a_missing_deposit_is_history_before_the_window() -> None:
    report = run({"BTC": "1.5"}, transfers=[deposit("BTC", "1")])
    row = report.account("a").asset("BTC")
    assert (row.reported, row.implied, row.difference) == (D("1.5"), D(1), D("0.5"))
    assert row.cause is Cause.HISTORY_BEFORE_WINDOW


def test_the_ledger_opening_balance_names_what_was_held_before() -> None:
    ledger = [bill("deposit", "BTC", "1", bal="1.5"), bill("deposit", "BTC", "0.2", n=3, bal="1.7")]
    report = run(
        {"BTC": "1.7"}, transfers=[deposit("BTC", "1"), deposit("BTC", "0.2", n=3)], ledger=ledger
    )
    row = report.account("a").asset("BTC")
    assert row.opening == D("0.5") and row.difference == D("0.5")
    assert row.cause is Cause.HISTORY_BEFORE_WINDOW
    assert row.implied == D("1.2")  # the deposit bills are the deposits: not counted twice


def test_an_unparsed_bill_type_explains_its_difference() -> None:
    ledger = [bill("type 250", "USDT", "3", n=2)]
    report = run({"USDT": "13"}, transfers=[deposit("USDT", "10")], ledger=ledger)
    row = report.account("a").asset("USDT")
    assert (row.implied, row.difference, row.unparsed) == (D(10), D(3), D(3))
    assert row.cause is Cause.UNPARSED_BILL_TYPE and row.unparsed_kinds == ("type 250",)


def test_earn_interest_is_a_small_excess_held_in_earn() -> None:
    interest = run({"USDT": "1002.5"}, transfers=[deposit("USDT", "1000")], earn={"USDT": "1002.5"})
    assert interest.account("a").asset("USDT").cause is Cause.EARN_INTEREST
    held_before = run({"USDT": "1000"}, transfers=[deposit("SOL", "1")], earn={"USDT": "1000"})
    assert held_before.account("a").asset("USDT").cause is Cause.HISTORY_BEFORE_WINDOW


def test_less_than_implied_is_a_missing_outflow() -> None:
    report = run({"BTC": "1.5"}, transfers=[deposit("BTC", "2")])
    row = report.account("a").asset("BTC")
    assert row.difference == D("-0.5") and row.cause is Cause.MISSING_OUTFLOW


def test_an_account_without_history() -> None:
    row = run({"ETH": "2"}).account("a").asset("ETH")
    assert (row.implied, row.difference, row.cause) == (0, D(2), Cause.NO_HISTORY)


def test_transfer_states() -> None:
    report = run(
        {"BTC": "0.7"},
        transfers=[
            deposit("BTC", "1"),
            deposit("BTC", "5", n=1, status="pending"),  # not credited yet
            withdrawal("BTC", "0.3", n=2, status="pending"),  # already taken off
            withdrawal("BTC", "9", n=3, status="failed"),  # given back
            withdrawal("BTC", "9", n=4, status="canceled"),
        ],
    )
    row = report.account("a").asset("BTC")
    assert row.implied == D("0.7") and row.cause is None


def test_ledger_kinds_counted_once() -> None:
    spot = fill("buy", "1", "100", "0", "USDT", trade_id="SOL-USDT:77", base="SOL")
    swap = fill(
        "sell", "1", "100", "0.05", "USDT", n=1, trade_id="BTC-USDT-SWAP:88", inst_type="SWAP"
    )
    ledger = [
        bill("trade", "SOL", "1", n=0, reference="77", source="trading"),  # the spot fill
        bill("trade", "USDT", "-100", n=0, reference="77", source="trading"),
        bill("trade", "USDT", "12.5", n=1, reference="88", source="trading"),  # a swap's P/L
        bill("transfer_to_trading", "USDT", "-500", n=2),
        bill("transfer", "USDT", "500", n=2, source="trading"),
        bill("savings_subscribe", "USDT", "-100", n=3),
        bill("transfer_to_sub", "USDT", "-20", n=4),
        bill("staking_reward", "SOL", "0.01", n=5),
        bill("interest", "USDT", "-0.5", n=6, source="trading"),
    ]
    report = run(
        {"SOL": "1.01", "USDT": "392"},
        trades=[spot, swap],
        transfers=[deposit("USDT", "500")],
        ledger=ledger,
    )
    sol, usdt = report.account("a").assets
    assert (sol.implied, sol.cause) == (D("1.01"), None)
    assert sol.flows["rewards"] == D("0.01")
    # 500 - 100 (spot) - 0.05 (swap fee) + 12.5 (swap P/L) - 20 (to a sub-account) - 0.5
    assert usdt.implied == D("391.95") and usdt.flows["transfers"] == D("-8")
    assert usdt.difference == D("0.05")


def test_every_row_is_listed_sorted_and_other_accounts_are_ignored() -> None:
    other = Transfer("b", "x", T0, TransferKind.DEPOSIT, "DOGE", D(5))
    report = reconcile(
        ["a"],
        reported={("a", "ZZZ"): D(1), ("a", "BTC"): D(0), ("b", "DOGE"): D(5)},
        earn={},
        trades=[],
        transfers=[deposit("ETH", "1"), other],
        ledger=[],
    )
    assert [row.asset for row in report.account("a").assets] == ["ETH", "ZZZ"]


@pytest.mark.parametrize(
    ("difference", "kwargs", "cause"),
    [
        ("0", {}, None),
        ("1", {"has_history": False}, Cause.NO_HISTORY),
        ("3", {"unparsed": D(3), "opening": D(3)}, Cause.UNPARSED_BILL_TYPE),
        ("3", {"unparsed": D(1), "opening": D(3)}, Cause.HISTORY_BEFORE_WINDOW),
        ("3", {"unparsed": D(1)}, Cause.UNPARSED_BILL_TYPE),
        ("10", {"earn": D(100)}, Cause.EARN_INTEREST),
        ("10.01", {"earn": D(100)}, Cause.HISTORY_BEFORE_WINDOW),
        ("-1", {"earn": D(100)}, Cause.MISSING_OUTFLOW),
    ],
)
def test_likely_cause_order(
    difference: str, kwargs: dict[str, object], cause: Cause | None
) -> None:
    options: dict[str, object] = {
        "has_history": True,
        "unparsed": D(0),
        "opening": None,
        "earn": D(0),
    }
    options.update(kwargs)
    assert likely_cause(D(difference), **options) is cause  # type: ignore[arg-type]


def test_the_ledger_vocabulary_covers_the_okx_bill_types() -> None:
    from keyfolio.exchanges import okx_records

    kinds = {*okx_records._BILL_TYPES.values(), *okx_records._FUNDING_BILL_TYPES.values()}
    assert kinds <= set(LEDGER_KINDS)
