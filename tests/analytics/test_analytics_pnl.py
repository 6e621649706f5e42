"""P/L worked examples, each checked by hand (the arithmetic is in the comment of each case).

Every case lists expected rows as ``asset: (amount, cost_basis, realized, unrealized, fees,
unknown_basis_amount)`` and the flag kinds it must raise. Times are minutes after T0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from keyfolio.analytics.pnl import CostMethod, FlagKind, compute_pnl, match_transfers
from keyfolio.domain.history import Trade, TradeSide, Transfer, TransferKind

T0 = datetime(2025, 1, 1, tzinfo=UTC)
D = Decimal


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


_ids = iter(range(1, 1_000_000))


def fill(
    side: str,
    base: str,
    amount: str,
    price: str,
    *,
    minute: int,
    fee: str = "0",
    fee_asset: str | None = None,
    quote: str = "USDT",
    account: str = "a",
) -> Trade:
    return Trade(
        account=account,
        trade_id=f"t{next(_ids)}",
        at=at(minute),
        base=base,
        quote=quote,
        side=TradeSide(side),
        amount=D(amount),
        price=D(price),
        fee=D(fee),
        fee_asset=fee_asset if fee != "0" else None,
    )


def move(
    kind: str,
    asset: str,
    amount: str,
    *,
    minute: int,
    account: str = "a",
    fee: str = "0",
    txid: str | None = None,
) -> Transfer:
    return Transfer(
        account=account,
        transfer_id=f"x{next(_ids)}",
        at=at(minute),
        kind=TransferKind(kind),
        asset=asset,
        amount=D(amount),
        fee=D(fee),
        txid=txid,
    )


def partial_sell() -> list[Trade]:
    """Cases 1 and 2: two buys of 1 BTC and a sale of 1.5, fees in USDT."""
    return [
        fill("buy", "BTC", "1", "100", minute=1, fee="1", fee_asset="USDT"),
        fill("buy", "BTC", "1", "200", minute=2, fee="2", fee_asset="USDT"),
        fill("sell", "BTC", "1.5", "300", minute=3, fee="4.5", fee_asset="USDT"),
    ]


def eth_round_trip() -> list[Trade]:
    """Cases 6 and 7: 1 ETH bought @ 1000, then 1 sold @ 1200."""
    return [
        fill("buy", "ETH", "1", "1000", minute=2),
        fill("sell", "ETH", "1", "1200", minute=3),
    ]


def eth_bought_with_btc() -> list[Trade]:
    """Cases 10 and 11: 1 BTC bought @ 30000 USDT, then 10 ETH on ETH-BTC @ 0.05 (fee in ETH)."""
    return [
        fill("buy", "BTC", "1", "30000", minute=1),
        fill("buy", "ETH", "10", "0.05", minute=2, quote="BTC", fee="0.01", fee_asset="ETH"),
    ]


Row = tuple[str, str, str, str | None, str, str]


@dataclass
class Case:
    trades: list[Trade]
    prices: dict[str, str]
    expected: dict[str, Row]
    transfers: list[Transfer] = field(default_factory=list)
    holdings: dict[str, str] | None = None
    rates: dict[str, str] = field(default_factory=dict)
    method: CostMethod = CostMethod.FIFO
    flags: set[FlagKind] = field(default_factory=set)


CASES: dict[str, Case] = {
    # 1. Partial sell, FIFO, fees in the quote (USDT).
    # Lots: 1 @ 100+1 = 101, 1 @ 200+2 = 202. Sell 1.5 @ 300, fee 4.5: proceeds 450-4.5 = 445.5;
    # cost = 101 + 0.5x202 = 202; realized 243.5. Left 0.5 costing 101: 0.5x400-101 = 99.
    # Fees 1+2+4.5 = 7.5.
    "partial sell fifo, fees in quote": Case(
        trades=partial_sell(),
        prices={"BTC": "400"},
        holdings={"BTC": "0.5"},
        expected={"BTC": ("0.5", "101", "243.5", "99", "7.5", "0")},
    ),
    # 2. The same fills at average cost: pool 2 units costing 303 (151.5 each). Sell 1.5:
    # cost 227.25, realized 445.5-227.25 = 218.25; left 0.5 costing 75.75: 200-75.75 = 124.25.
    # FIFO vs average: 243.5+99 = 218.25+124.25 = 342.5 in total, split differently.
    "partial sell average cost": Case(
        trades=partial_sell(),
        prices={"BTC": "400"},
        holdings={"BTC": "0.5"},
        method=CostMethod.AVERAGE,
        expected={"BTC": ("0.5", "75.75", "218.25", "124.25", "7.5", "0")},
    ),
    # 3. Fee in the base asset on a buy: 2 ETH @ 1000, fee 0.002 ETH. The lot is 1.998 ETH
    # costing 2000; the fee is 0.002x1000 = 2 USD. Unrealized 1.998x1500-2000 = 997.
    "fee in base on a buy": Case(
        trades=[fill("buy", "ETH", "2", "1000", minute=1, fee="0.002", fee_asset="ETH")],
        prices={"ETH": "1500"},
        holdings={"ETH": "1.998"},
        expected={"ETH": ("1.998", "2000", "0", "997", "2", "0")},
    ),
    # 4. Fee in base on a sell: buy 1 SOL @ 100; sell 0.5 @ 120 with fee 0.001 SOL, so 0.501 SOL
    # leaves for proceeds of 60: cost 50.1, realized 9.9. Fee 0.001x120 = 0.12.
    # Left 0.499 costing 49.9: 0.499x110-49.9 = 54.89-49.9 = 4.99.
    "fee in base on a sell": Case(
        trades=[
            fill("buy", "SOL", "1", "100", minute=1),
            fill("sell", "SOL", "0.5", "120", minute=2, fee="0.001", fee_asset="SOL"),
        ],
        prices={"SOL": "110"},
        holdings={"SOL": "0.499"},
        expected={"SOL": ("0.499", "49.9", "9.9", "4.99", "0.12", "0")},
    ),
    # 5. Selling more than the known lots: buy 1 @ 100, sell 3 @ 150 (proceeds 450). Known:
    # 1 unit, proceeds 150, cost 100 -> realized 50. The other 2 units (300 of proceeds) have no
    # basis: flagged, not in realized. Nothing held.
    "sell more than the known lots": Case(
        trades=[
            fill("buy", "BTC", "1", "100", minute=1),
            fill("sell", "BTC", "3", "150", minute=2),
        ],
        prices={"BTC": "160"},
        holdings={"BTC": "0"},
        expected={"BTC": ("0", "0", "50", "0", "0", "0")},
        flags={FlagKind.SOLD_BEYOND_HISTORY},
    ),
    # 6. Unknown-basis deposit, FIFO: deposit 1 ETH (no withdrawal), buy 1 @ 1000, sell 1 @ 1200.
    # FIFO sells the deposited unit: unknown basis, so realized 0 (1200 of proceeds flagged).
    # Left: the bought unit, cost 1000: 1300-1000 = 300.
    "unknown basis deposit fifo": Case(
        trades=eth_round_trip(),
        transfers=[move("deposit", "ETH", "1", minute=1)],
        prices={"ETH": "1300"},
        holdings={"ETH": "1"},
        expected={"ETH": ("1", "1000", "0", "300", "0", "0")},
        flags={FlagKind.UNKNOWN_BASIS_DEPOSIT, FlagKind.SOLD_UNKNOWN_BASIS},
    ),
    # 7. The same at average cost: the pool is 1 known (cost 1000) + 1 unknown. Selling 1 takes
    # half of each: known 0.5 costing 500 for 600 of proceeds -> realized 100; the other 0.5 is
    # sold with unknown basis. Left: 0.5 known costing 500 and 0.5 unknown.
    # Unrealized on the known half: 0.5x1300-500 = 150.
    "unknown basis deposit average": Case(
        trades=eth_round_trip(),
        transfers=[move("deposit", "ETH", "1", minute=1)],
        prices={"ETH": "1300"},
        holdings={"ETH": "1"},
        method=CostMethod.AVERAGE,
        expected={"ETH": ("1", "500", "100", "150", "0", "0.5")},
        flags={FlagKind.UNKNOWN_BASIS_DEPOSIT, FlagKind.SOLD_UNKNOWN_BASIS},
    ),
    # 8. Two accounts, lots kept per account: a buys 1 @ 100, b buys 1 @ 200, b sells 1 @ 250.
    # b's sale uses b's lot: realized 50 (a pooled FIFO would say 150). Left: a's lot, 300-100.
    "two accounts": Case(
        trades=[
            fill("buy", "BTC", "1", "100", minute=1, account="a"),
            fill("buy", "BTC", "1", "200", minute=2, account="b"),
            fill("sell", "BTC", "1", "250", minute=3, account="b"),
        ],
        prices={"BTC": "300"},
        holdings={"BTC": "1"},
        expected={"BTC": ("1", "100", "50", "200", "0", "0")},
    ),
    # 9. A transfer between them (same txid). a: 1 @ 100 + fee 1 (lot 101), 1 @ 200 (lot 200).
    # a withdraws 1.5 with a 0.01 BTC fee: the fee units come off the first lot (cost 1.01,
    # realized as a loss; worth 0.01x250 = 2.5 at the time). Then 1.5 moves with its basis:
    # 0.99 costing 99.99 and 0.51 costing 102; a keeps 0.49 costing 98.
    # b sells 1 @ 300: cost 99.99 + 0.01x(102/0.51) = 101.99, realized 198.01.
    # Realized 198.01-1.01 = 197. Left 0.49+0.5 = 0.99 costing 98+100 = 198: 297-198 = 99.
    # Check: paid 301, got 300, hold 297 -> 296 = 197+99. Fees 1+2.5 = 3.5.
    "transfer between accounts": Case(
        trades=[
            fill("buy", "BTC", "1", "100", minute=1, fee="1", fee_asset="USDT"),
            fill("buy", "BTC", "1", "200", minute=2),
            fill("sell", "BTC", "1", "300", minute=20, account="b"),
        ],
        transfers=[
            move("withdrawal", "BTC", "1.5", minute=3, fee="0.01", txid="0xabc"),
            move("deposit", "BTC", "1.5", minute=15, account="b", txid="0xabc"),
        ],
        rates={"BTC": "250"},
        prices={"BTC": "300"},
        holdings={"BTC": "0.99"},
        expected={"BTC": ("0.99", "198", "197", "99", "3.5", "0")},
    ),
    # 10. Non-USD quote: buy 1 BTC @ 30000 USDT, then buy 10 ETH on ETH-BTC @ 0.05 (0.5 BTC) with
    # fee 0.01 ETH, BTC at 40000 then. V = 0.5x40000 = 20000: the ETH lot is 9.99 costing 20000,
    # and 0.5 BTC is disposed of for 20000 against a cost of 15000 -> BTC realized 5000.
    # ETH fee 0.01x0.05x40000 = 20. ETH: 9.99x2100-20000 = 979; BTC: 0.5x42000-15000 = 6000.
    "non-USD quote": Case(
        trades=eth_bought_with_btc(),
        rates={"BTC": "40000"},
        prices={"ETH": "2100", "BTC": "42000"},
        holdings={"ETH": "9.99", "BTC": "0.5"},
        expected={
            "BTC": ("0.5", "15000", "5000", "6000", "0", "0"),
            "ETH": ("9.99", "20000", "0", "979", "20", "0"),
        },
    ),
    # 11. The same without a BTC rate: the ETH lot has unknown basis (flagged), and the 0.5 BTC
    # leaves without realized P/L. BTC left: 0.5 costing 15000 -> 21000-15000 = 6000.
    "non-USD quote without a rate": Case(
        trades=eth_bought_with_btc(),
        prices={"ETH": "2100", "BTC": "42000"},
        holdings={"ETH": "9.99", "BTC": "0.5"},
        expected={
            "BTC": ("0.5", "15000", "0", "6000", "0", "0"),
            "ETH": ("9.99", "0", "0", "0", "0", "9.99"),
        },
        flags={FlagKind.UNPRICED_QUOTE},
    ),
    # 12. Selling for a non-USD quote (a disposal of ETH, an acquisition of BTC): buy 1 ETH @ 1000;
    # sell it on ETH-BTC @ 0.05 with fee 0.0001 BTC, BTC at 30000: V = 1500. ETH realized
    # 1500-1000 = 500. BTC lot 0.0499 costing 1500 (the fee, 3 USD, is in fewer units).
    # BTC: 0.0499x40000-1500 = 1996-1500 = 496.
    "sell for a non-USD quote": Case(
        trades=[
            fill("buy", "ETH", "1", "1000", minute=1),
            fill("sell", "ETH", "1", "0.05", minute=2, quote="BTC", fee="0.0001", fee_asset="BTC"),
        ],
        rates={"BTC": "30000"},
        prices={"ETH": "1100", "BTC": "40000"},
        holdings={"BTC": "0.0499"},
        expected={
            "BTC": ("0.0499", "1500", "0", "496", "3", "0"),
            "ETH": ("0", "0", "500", "0", "0", "0"),
        },
    ),
    # 13. Rebates (negative fees): buy 1 @ 100 with fee -0.1 USDT -> lot 99.9; sell 1 @ 110 with
    # fee -0.11 -> proceeds 110.11; realized 110.11-99.9 = 10.21. Fees -0.21.
    "maker rebates": Case(
        trades=[
            fill("buy", "BTC", "1", "100", minute=1, fee="-0.1", fee_asset="USDT"),
            fill("sell", "BTC", "1", "110", minute=2, fee="-0.11", fee_asset="USDT"),
        ],
        prices={"BTC": "120"},
        holdings={},
        expected={"BTC": ("0", "0", "10.21", "0", "-0.21", "0")},
    ),
    # 14. Fee in a third asset: OKB bought 1 @ 1.5; buy 1 BTC @ 100 with fee 0.5 OKB, OKB at 2:
    # fee 1 USD, so the BTC lot costs 101; 0.5 OKB is disposed of for 1 against 0.75 ->
    # OKB realized 0.25. BTC: 120-101 = 19; OKB: 0.5x2-0.75 = 0.25.
    "fee in a third asset": Case(
        trades=[
            fill("buy", "OKB", "1", "1.5", minute=1),
            fill("buy", "BTC", "1", "100", minute=2, fee="0.5", fee_asset="OKB"),
        ],
        rates={"OKB": "2"},
        prices={"BTC": "120", "OKB": "2"},
        holdings={"BTC": "1", "OKB": "0.5"},
        expected={
            "BTC": ("1", "101", "0", "19", "1", "0"),
            "OKB": ("0.5", "0.75", "0.25", "0.25", "0", "0"),
        },
    ),
    # 15. Held before the history: buy 1 @ 100 but 1.5 is held. The extra 0.5 has unknown basis.
    # Unrealized on the known unit only: 200-100 = 100.
    "holdings above the history": Case(
        trades=[fill("buy", "BTC", "1", "100", minute=1)],
        prices={"BTC": "200"},
        holdings={"BTC": "1.5"},
        expected={"BTC": ("1.5", "100", "0", "100", "0", "0.5")},
        flags={FlagKind.HELD_BEFORE_HISTORY},
    ),
    # 16. Holdings below the history: lots 1 @ 100 and 1 @ 200 but 1.5 held. The oldest 0.5
    # (cost 50) is dropped without P/L: left 0.5 costing 50 + 1 costing 200 = 250;
    # 1.5x300-250 = 200.
    "holdings below the history": Case(
        trades=[
            fill("buy", "BTC", "1", "100", minute=1),
            fill("buy", "BTC", "1", "200", minute=2),
        ],
        prices={"BTC": "300"},
        holdings={"BTC": "1.5"},
        expected={"BTC": ("1.5", "250", "0", "200", "0", "0")},
        flags={FlagKind.HOLDINGS_BELOW_HISTORY},
    ),
    # 17. Unmatched withdrawal: buy 2 @ 100, withdraw 1 to an outside address: the first lot
    # unit (cost 100) leaves without realized P/L. Left 1 costing 100: 150-100 = 50.
    "unmatched withdrawal": Case(
        trades=[fill("buy", "BTC", "2", "100", minute=1)],
        transfers=[move("withdrawal", "BTC", "1", minute=2)],
        prices={"BTC": "150"},
        holdings={"BTC": "1"},
        expected={"BTC": ("1", "100", "0", "50", "0", "0")},
        flags={FlagKind.UNMATCHED_WITHDRAWAL},
    ),
    # 18. Matched by amount and time (no txid), 0.0005 short (within 0.1%): a buys 1 ETH @ 1000
    # and withdraws 1; b receives 0.9995 ten minutes later. The missing 0.0005 (cost 0.5) is a
    # realized loss; b holds 0.9995 costing 999.5, worth 999.5 at 1000 -> unrealized 0.
    "transfer matched by amount": Case(
        trades=[fill("buy", "ETH", "1", "1000", minute=1)],
        transfers=[
            move("withdrawal", "ETH", "1", minute=2),
            move("deposit", "ETH", "0.9995", minute=12, account="b"),
        ],
        prices={"ETH": "1000"},
        holdings={"ETH": "0.9995"},
        expected={"ETH": ("0.9995", "999.5", "-0.5", "0", "0", "0")},
    ),
    # 19. Cash never has P/L nor flags: a USDT deposit, USDC bought with USDT, a USDT withdrawal.
    "cash only": Case(
        trades=[fill("buy", "USDC", "100", "1.0001", minute=2, fee="0.1", fee_asset="USDC")],
        transfers=[
            move("deposit", "USDT", "1000", minute=1),
            move("withdrawal", "USDT", "10", minute=3),
        ],
        prices={"USDT": "1", "USDC": "1"},
        holdings={"USDT": "889.99", "USDC": "99.9"},
        expected={},
    ),
}


def _rate(rates: dict[str, str]):  # type: ignore[no-untyped-def]
    def usd_rate(asset: str, when: datetime) -> Decimal | None:
        return D(rates[asset]) if asset in rates else None

    return usd_rate


@pytest.mark.parametrize("name", list(CASES))
def test_worked_example(name: str) -> None:
    case = CASES[name]
    report = compute_pnl(
        case.trades,
        case.transfers,
        holdings=None if case.holdings is None else {k: D(v) for k, v in case.holdings.items()},
        prices={k: D(v) for k, v in case.prices.items()},
        method=case.method,
        usd_rate=_rate(case.rates),
    )
    got = {
        row.asset: (
            row.amount,
            row.cost_basis,
            row.realized,
            row.unrealized,
            row.fees,
            row.unknown_basis_amount,
        )
        for row in report.assets
    }
    want = {
        asset: tuple(None if v is None else D(v) for v in row)
        for asset, row in case.expected.items()
    }
    assert got == want
    assert {flag.kind for flag in report.flags} == case.flags
    assert report.total_realized == sum((D(row[2]) for row in case.expected.values()), D(0))
    assert report.total_unrealized == sum(
        (D(row[3]) for row in case.expected.values() if row[3] is not None), D(0)
    )
    assert report.method is case.method


def test_sold_unknown_basis_proceeds_are_reported_not_realized() -> None:
    # Case 5 again: 2 units sold beyond the history, for 300 of proceeds.
    case = CASES["sell more than the known lots"]
    report = compute_pnl(case.trades, [], holdings={}, prices={"BTC": D(160)}, usd_rate=_rate({}))
    row = report.asset("BTC")
    assert (row.unknown_basis_sold, row.unknown_basis_proceeds) == (D(2), D(300))
    assert row.flagged
    (flag,) = report.flags
    assert (flag.kind, flag.amount, flag.count) == (FlagKind.SOLD_BEYOND_HISTORY, D(2), 1)
    assert "BTC: 2 sold beyond every known lot" in report.notes[0]


def test_no_price_leaves_unrealized_unknown() -> None:
    report = compute_pnl(
        [fill("buy", "XYZ", "3", "2", minute=1)],
        [],
        holdings={"XYZ": D(3)},
        prices={},
        usd_rate=_rate({}),
    )
    row = report.asset("XYZ")
    assert row.unrealized is None and row.value is None and row.cost_basis == D(6)
    assert report.total_unrealized == 0
    assert [flag.kind for flag in report.flags] == [FlagKind.NO_PRICE]


def test_without_holdings_the_lots_are_the_amount() -> None:
    report = compute_pnl(
        [fill("buy", "BTC", "2", "10", minute=1)],
        [move("deposit", "BTC", "1", minute=2)],
        holdings=None,
        prices={"BTC": D(20)},
        usd_rate=_rate({}),
    )
    row = report.asset("BTC")
    assert (row.amount, row.unknown_basis_amount, row.unrealized) == (D(3), D(1), D(20))


def test_derivative_fills_are_skipped_and_flagged() -> None:
    swap = Trade(
        account="a",
        trade_id="s1",
        at=at(1),
        base="BTC",
        quote="USDT",
        side=TradeSide.BUY,
        amount=D(1),
        price=D(100),
        inst_type="SWAP",
    )
    report = compute_pnl([swap], [], holdings={}, prices={}, usd_rate=_rate({}))
    assert report.assets == []
    assert [flag.kind for flag in report.flags] == [FlagKind.SKIPPED_TRADE]


def test_transfer_matching_rules() -> None:
    transfers = [
        move("withdrawal", "BTC", "1", minute=0, txid="tx1"),
        move("deposit", "BTC", "1", minute=1, account="a", txid="tx1"),  # same account: no
        move("deposit", "BTC", "1", minute=5000, account="b", txid="tx1"),  # txid beats time
        move("withdrawal", "ETH", "2", minute=0),
        move("deposit", "ETH", "2.01", minute=1, account="b"),  # more than sent: no
        move("deposit", "ETH", "1.99", minute=2, account="b"),  # 0.5% short: no
        move("deposit", "ETH", "2", minute=60 * 73, account="b"),  # after 72 h: no
        move("deposit", "ETH", "2", minute=60 * 71, account="c"),  # yes
        move("withdrawal", "SOL", "5", minute=10),
        move("deposit", "SOL", "5", minute=6, account="b"),  # 4 min before: tolerated
    ]
    assert match_transfers(transfers) == {0: 2, 3: 7, 8: 9}


def test_pending_transfers_are_ignored() -> None:
    pending = Transfer(
        account="a",
        transfer_id="p",
        at=at(1),
        kind=TransferKind.DEPOSIT,
        asset="BTC",
        amount=D(1),
        status="pending",
    )
    report = compute_pnl([], [pending], holdings=None, prices={}, usd_rate=_rate({}))
    assert report.assets == [] and report.flags == []


def test_deposit_before_its_withdrawal_timestamp_still_moves_the_lots() -> None:
    # The deposit is stamped 2 minutes before the withdrawal (clock skew): the lots still move.
    report = compute_pnl(
        [fill("buy", "SOL", "5", "10", minute=1)],
        [
            move("withdrawal", "SOL", "5", minute=10, txid="t"),
            move("deposit", "SOL", "5", minute=8, account="b", txid="t"),
        ],
        holdings={"SOL": D(5)},
        prices={"SOL": D(12)},
        usd_rate=_rate({}),
    )
    row = report.asset("SOL")
    assert (row.cost_basis, row.unknown_basis_amount, row.unrealized) == (D(50), D(0), D(10))
    assert report.flags == []
