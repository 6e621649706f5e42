"""Property tests of the P/L engine: totals that must hold whatever the fills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from keyfolio.analytics.pnl import CostMethod, compute_pnl
from keyfolio.domain.history import Trade, TradeSide, Transfer, TransferKind

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TOLERANCE = Decimal("1e-20")

amounts = st.integers(min_value=1, max_value=10_000).map(lambda n: Decimal(n) / 100)
prices = st.integers(min_value=1, max_value=1_000_000).map(lambda n: Decimal(n) / 100)
fees = st.integers(min_value=-50, max_value=500).map(lambda n: Decimal(n) / 100)
steps = st.lists(st.tuples(st.booleans(), amounts, prices, fees), min_size=1, max_size=30)


def _no_rate(_asset: str, _at: datetime) -> Decimal | None:
    return None


def _trades(plan: list[tuple[bool, Decimal, Decimal, Decimal]]) -> list[Trade]:
    """Buys and sells of one asset in two accounts; a sell never exceeds what its account
    holds."""
    held = {"a": Decimal(0), "b": Decimal(0)}
    trades = []
    for n, (sell, amount, price, fee) in enumerate(plan):
        account = "a" if n % 3 else "b"
        if sell and amount > held[account]:
            sell = False
        held[account] += -amount if sell else amount
        trades.append(
            Trade(
                account=account,
                trade_id=str(n),
                at=T0 + timedelta(minutes=n),
                base="BTC",
                quote="USDT",
                side=TradeSide.SELL if sell else TradeSide.BUY,
                amount=amount,
                price=price,
                fee=fee,
                fee_asset="USDT",
            )
        )
    return trades


def _cash_flow(trades: list[Trade]) -> Decimal:
    """USDT received minus USDT paid, fees included."""
    total = Decimal(0)
    for trade in trades:
        sign = 1 if trade.side is TradeSide.SELL else -1
        total += sign * trade.amount * trade.price - trade.fee
    return total


@settings(max_examples=150, deadline=None)
@given(steps, prices)
def test_total_pnl_is_value_plus_cash_flow_for_both_methods(
    plan: list[tuple[bool, Decimal, Decimal, Decimal]], price: Decimal
) -> None:
    trades = _trades(plan)
    held = sum((t.amount if t.side is TradeSide.BUY else -t.amount for t in trades), Decimal(0))
    expected = held * price + _cash_flow(trades)
    for method in CostMethod:
        report = compute_pnl(
            trades, [], holdings=None, prices={"BTC": price}, method=method, usd_rate=_no_rate
        )
        total = report.total_realized + report.total_unrealized
        assert abs(total - expected) <= TOLERANCE, method
        assert report.flags == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(amounts, prices, fees), min_size=1, max_size=10), prices, fees)
def test_closed_round_trip_realizes_proceeds_minus_cost(
    buys: list[tuple[Decimal, Decimal, Decimal]], sell_price: Decimal, sell_fee: Decimal
) -> None:
    trades = [
        Trade("a", str(n), T0 + timedelta(minutes=n), "ETH", "USDT", TradeSide.BUY, a, p, f, "USDT")
        for n, (a, p, f) in enumerate(buys)
    ]
    total = sum((a for a, _p, _f in buys), Decimal(0))
    trades.append(
        Trade(
            "a",
            "sell",
            T0 + timedelta(days=1),
            "ETH",
            "USDT",
            TradeSide.SELL,
            total,
            sell_price,
            sell_fee,
            "USDT",
        )
    )
    cost = sum((a * p + f for a, p, f in buys), Decimal(0))
    proceeds = total * sell_price - sell_fee
    for method in CostMethod:
        report = compute_pnl(
            trades, [], holdings={}, prices={"ETH": sell_price}, method=method, usd_rate=_no_rate
        )
        row = report.asset("ETH")
        assert abs(row.realized - (proceeds - cost)) <= TOLERANCE
        assert row.amount == 0 and row.unrealized == 0 and row.cost_basis == 0


@settings(max_examples=100, deadline=None)
@given(steps, prices, st.integers(min_value=1, max_value=100))
def test_a_transfer_between_own_accounts_changes_no_total(
    plan: list[tuple[bool, Decimal, Decimal, Decimal]], price: Decimal, percent: int
) -> None:
    # Moving part of a's holding to b (matched by txid, no fee) is not a disposal: the total
    # P/L is the same as without the transfer, for both methods.
    trades = [t for t in _trades(plan) if t.account == "a"]
    held = sum((t.amount if t.side is TradeSide.BUY else -t.amount for t in trades), Decimal(0))
    moved = (held * percent / 100).quantize(Decimal("0.00000001"), rounding="ROUND_DOWN")
    if moved <= 0:
        return
    end = T0 + timedelta(days=1)
    transfers = [
        Transfer("a", "w", end, TransferKind.WITHDRAWAL, "BTC", moved, txid="tx"),
        Transfer(
            "b", "d", end + timedelta(minutes=5), TransferKind.DEPOSIT, "BTC", moved, txid="tx"
        ),
    ]
    for method in CostMethod:
        plain = compute_pnl(
            trades, [], holdings=None, prices={"BTC": price}, method=method, usd_rate=_no_rate
        )
        moved_report = compute_pnl(
            trades,
            transfers,
            holdings=None,
            prices={"BTC": price},
            method=method,
            usd_rate=_no_rate,
        )
        before = plain.total_realized + plain.total_unrealized
        after = moved_report.total_realized + moved_report.total_unrealized
        assert abs(before - after) <= TOLERANCE
        assert moved_report.total_realized == plain.total_realized
        assert moved_report.flags == []
        assert moved_report.asset("BTC").amount == held
