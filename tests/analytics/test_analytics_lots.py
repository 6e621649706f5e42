"""Tax lots (``keyfolio pnl --lots``): worked examples, and their gains add up to realized P/L.

The property tests throw random fills (three assets, a non-USD quote, fees in the base, the
quote, a third asset, rebates), deposits, withdrawals with fees and transfers between own
accounts (with a shortfall) at both cost methods, and require the sum of the lot gains to be
*exactly* the report's realized P/L (no tolerance: every sum is exact).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyfolio.analytics.lots import LotUse, total_gain
from keyfolio.analytics.pnl import CostMethod, compute_pnl
from keyfolio.domain.history import Trade, TradeSide, Transfer, TransferKind
from keyfolio.domain.money import money_context, subtract, total

T0 = datetime(2025, 1, 1, tzinfo=UTC)
D = Decimal


def _rate(asset: str, _at: datetime) -> Decimal | None:
    return {"BTC": D(50000), "OKB": D(40)}.get(asset)


def buy(n: int, amount: str, price: str, fee: str = "0", *, days: int = 0, **kw: str) -> Trade:
    return Trade(
        kw.get("account", "a"),
        f"b{n}",
        T0 + timedelta(days=days, minutes=n),
        kw.get("base", "BTC"),
        kw.get("quote", "USDT"),
        TradeSide.BUY,
        D(amount),
        D(price),
        D(fee),
        kw.get("fee_asset", "USDT"),
    )


def sell(n: int, amount: str, price: str, fee: str = "0", *, days: int = 0, **kw: str) -> Trade:
    trade = buy(n, amount, price, fee, days=days, **kw)
    return Trade(**{**trade.__dict__, "trade_id": f"s{n}", "side": TradeSide.SELL})


def lots_of(
    trades: list[Trade], transfers: list[Transfer], method: CostMethod
) -> tuple[list[LotUse], Decimal]:
    lots: list[LotUse] = []
    report = compute_pnl(
        trades, transfers, holdings=None, prices={}, method=method, usd_rate=_rate, lots=lots
    )
    return lots, report.total_realized


def test_fifo_takes_the_oldest_lots_and_splits_proceeds_and_fee() -> None:
    trades = [
        buy(1, "1", "40000", "20"),
        buy(2, "1", "50000", "25", days=10),
        sell(3, "1.5", "60000", "30", days=400),
    ]
    lots, realized = lots_of(trades, [], CostMethod.FIFO)
    first, second = lots
    assert (first.amount, first.cost, first.proceeds, first.fee, first.gain) == (
        D(1),
        D(40020),
        D(59980),  # (90000 - 30) x 1 / 1.5
        D(20),
        D(19960),
    )
    assert (second.amount, second.cost, second.proceeds, second.fee, second.gain) == (
        D("0.5"),
        D("25012.5"),
        D(29990),
        D(10),
        D("4977.5"),
    )
    assert first.acquired_at == T0 + timedelta(minutes=1)
    assert (first.holding_days, second.holding_days) == (400, 390)
    assert {lot.account for lot in lots} == {"a"} and {lot.asset for lot in lots} == {"BTC"}
    assert total_gain(lots) == realized == D("24937.5")


def test_average_cost_is_one_row_per_pool_dated_at_the_mean_acquisition() -> None:
    trades = [
        buy(1, "1", "40000", "20"),
        buy(2, "3", "50000", "0", days=8),
        sell(3, "2", "60000", "30", days=20),
    ]
    lots, realized = lots_of(trades, [], CostMethod.AVERAGE)
    (row,) = lots
    assert row.amount == D(2) and row.cost == D(95010)  # (40020 + 150000) x 2 / 4
    assert row.proceeds == D(119970) and row.fee == D(30) and row.gain == D(24960)
    # units: 1 at day 0 (+1 min), 3 at day 8 (+2 min): the mean is day 6 (+1 min 45 s)
    assert row.acquired_at == T0 + timedelta(days=6, minutes=1, seconds=45)
    assert row.holding_days == 14
    assert total_gain(lots) == realized


def test_units_of_unknown_basis_and_beyond_history_have_no_gain() -> None:
    deposit = Transfer("a", "d1", T0, TransferKind.DEPOSIT, "BTC", D("0.5"))
    trades = [buy(1, "0.5", "40000", days=1), sell(2, "1.5", "60000", days=2)]
    lots, realized = lots_of(trades, [deposit], CostMethod.FIFO)
    unknown, known, beyond = lots
    assert (unknown.amount, unknown.cost, unknown.gain) == (D("0.5"), None, None)
    assert unknown.proceeds == D(30000) and unknown.acquired_at == T0
    assert (known.amount, known.cost, known.proceeds, known.gain) == (
        D("0.5"),
        D(20000),
        D(30000),
        D(10000),
    )
    assert (beyond.amount, beyond.acquired_at, beyond.holding_days, beyond.gain) == (
        D("0.5"),
        None,
        None,
        None,
    )
    assert total_gain(lots) == realized == D(10000)


def test_a_withdrawal_fee_is_a_disposal_for_nothing() -> None:
    trades = [buy(1, "1", "40000")]
    withdrawal = Transfer(
        "a", "w1", T0 + timedelta(days=3), TransferKind.WITHDRAWAL, "BTC", D("0.5"), D("0.001")
    )
    lots, realized = lots_of(trades, [withdrawal], CostMethod.FIFO)
    (fee,) = lots
    assert (fee.amount, fee.cost, fee.proceeds, fee.gain) == (D("0.001"), D(40), D(0), D(-40))
    assert fee.fee == D(50)  # 0.001 BTC at its rate of 50000 at the time
    assert total_gain(lots) == realized == D(-40)


def test_a_fee_paid_in_a_third_asset_disposes_of_it() -> None:
    trades = [
        buy(1, "10", "30", base="OKB"),
        buy(2, "1", "40000", "0.5", fee_asset="OKB"),
    ]
    lots, realized = lots_of(trades, [], CostMethod.FIFO)
    (okb,) = lots
    assert okb.asset == "OKB" and okb.amount == D("0.5") and okb.cost == D(15)
    assert okb.proceeds == D(20) and okb.gain == D(5)  # 0.5 OKB at 40
    assert total_gain(lots) == realized


@pytest.mark.parametrize("method", list(CostMethod))
def test_no_disposal_no_lots(method: CostMethod) -> None:
    lots, realized = lots_of([buy(1, "1", "40000")], [], method)
    assert lots == [] and realized == 0 == total_gain(lots)


# -- properties ---------------------------------------------------------------------------

amounts = st.integers(min_value=1, max_value=5_000).map(lambda n: D(n) / 1000)
prices = st.integers(min_value=1, max_value=100_000).map(lambda n: D(n) / 100)
fees = st.integers(min_value=-20, max_value=200).map(lambda n: D(n) / 10_000)
fill = st.tuples(
    st.sampled_from(["BTC-USDT", "ETH-USDT", "ETH-BTC", "OKB-USDT"]),
    st.booleans(),
    amounts,
    prices,
    fees,
    st.sampled_from(["quote", "base", "OKB"]),
    st.sampled_from(["a", "b"]),
)
transfer = st.tuples(
    st.sampled_from(["deposit", "withdrawal", "move"]),
    st.sampled_from(["BTC", "ETH"]),
    amounts,
    st.integers(min_value=0, max_value=5).map(lambda n: D(n) / 1000),
    st.sampled_from(["a", "b"]),
)


def _history(
    fills: list[tuple[str, bool, Decimal, Decimal, Decimal, str, str]],
    moves: list[tuple[str, str, Decimal, Decimal, str]],
) -> tuple[list[Trade], list[Transfer]]:
    trades = []
    for n, (pair, is_sell, amount, price, fee, fee_in, account) in enumerate(fills):
        base, quote = pair.split("-")
        fee_asset = {"quote": quote, "base": base}.get(fee_in, fee_in)
        trades.append(
            Trade(
                account,
                f"t{n}",
                T0 + timedelta(hours=n),
                base,
                quote,
                TradeSide.SELL if is_sell else TradeSide.BUY,
                amount,
                price,
                fee,
                fee_asset,
            )
        )
    transfers = []
    for n, (kind, asset, amount, fee, account) in enumerate(moves):
        at = T0 + timedelta(hours=n * 2, minutes=30)
        if kind == "deposit":
            transfers.append(Transfer(account, f"d{n}", at, TransferKind.DEPOSIT, asset, amount))
        elif kind == "withdrawal":
            transfers.append(
                Transfer(account, f"w{n}", at, TransferKind.WITHDRAWAL, asset, amount, fee)
            )
        else:  # a move to the other account, arriving with a shortfall of up to 0.1 %
            other = "b" if account == "a" else "a"
            arrived = amount - (amount * D("0.0005")).quantize(D("0.000001"))
            txid = f"x{n}"
            transfers += [
                Transfer(account, f"m{n}", at, TransferKind.WITHDRAWAL, asset, amount, fee, txid),
                Transfer(other, f"r{n}", at, TransferKind.DEPOSIT, asset, arrived, txid=txid),
            ]
    return trades, transfers


@settings(max_examples=200, deadline=None)
@given(st.lists(fill, min_size=1, max_size=25), st.lists(transfer, max_size=8))
def test_lot_gains_add_up_to_realized_pnl_exactly(
    fills: list[tuple[str, bool, Decimal, Decimal, Decimal, str, str]],
    moves: list[tuple[str, str, Decimal, Decimal, str]],
) -> None:
    trades, transfers = _history(fills, moves)
    for method in CostMethod:
        lots, realized = lots_of(trades, transfers, method)
        assert total_gain(lots) == realized, method
        plain = compute_pnl(
            trades, transfers, holdings=None, prices={}, method=method, usd_rate=_rate
        )
        assert plain.total_realized == realized  # keeping the lots changes nothing
        for lot in lots:
            assert lot.amount >= 0
            if lot.gain is not None:
                assert lot.cost is not None and lot.proceeds is not None
                assert lot.gain == subtract(lot.proceeds, lot.cost)
            if lot.acquired_at is not None:
                assert lot.acquired_at <= lot.disposed_at


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(amounts, prices, fees), min_size=1, max_size=12), prices)
def test_selling_everything_lists_every_unit_once(
    buys: list[tuple[Decimal, Decimal, Decimal]], price: Decimal
) -> None:
    trades = [
        Trade("a", f"b{n}", T0 + timedelta(hours=n), "SOL", "USDT", TradeSide.BUY, a, p, f, "USDT")
        for n, (a, p, f) in enumerate(buys)
    ]
    held = sum((a for a, _p, _f in buys), D(0))
    trades.append(
        Trade("a", "s", T0 + timedelta(days=9), "SOL", "USDT", TradeSide.SELL, held, price)
    )
    for method in CostMethod:
        lots, realized = lots_of(trades, [], method)
        with money_context():
            cost = total(a * p + f for a, p, f in buys)
            assert total(lot.amount for lot in lots) == held
            assert total(lot.proceeds or D(0) for lot in lots) == held * price
            assert total(lot.cost or D(0) for lot in lots) == cost
            assert total_gain(lots) == realized == held * price - cost
        if method is CostMethod.FIFO:
            assert len(lots) == len(buys)


def test_the_worked_example_of_docs_analytics() -> None:
    """docs/analytics.md, "Tax lots": two buys and one sale, at both methods."""
    trades = [buy(1, "1", "20000", "10"), buy(2, "1", "30000", days=59)]
    trades.append(sell(3, "1.5", "40000", "60", days=151))
    fifo, realized = lots_of(trades, [], CostMethod.FIFO)
    assert realized == 24930
    rows = [
        (lot.amount, lot.cost, lot.proceeds, lot.fee, lot.gain, lot.holding_days) for lot in fifo
    ]
    assert rows == [(1, 20010, 39960, 40, 19950, 151), (D("0.5"), 15000, 19980, 20, 4980, 92)]
    (pool,), realized = lots_of(trades, [], CostMethod.AVERAGE)
    assert realized == D("22432.5") == pool.gain
    assert (pool.amount, pool.cost, pool.proceeds, pool.fee) == (D("1.5"), D("37507.5"), 59940, 60)
    assert pool.acquired_at == T0 + timedelta(days=29, hours=12, seconds=90)
    assert pool.holding_days == 121
