"""Value change over windows, top movers and allocation: table-driven, checked by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from keyfolio.analytics.allocation import AllocationKey, Position, allocate
from keyfolio.analytics.changes import (
    ChangeBasis,
    change_between,
    changes_for,
    open24h_value,
    value_change,
)
from keyfolio.analytics.movers import HeldAsset, pnl_movers, top_movers
from keyfolio.analytics.pnl import AssetPnl, CostMethod, PnlReport
from keyfolio.analytics.windows import WINDOWS, parse_window, window_start
from keyfolio.errors import UsageError

D = Decimal
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Point:
    at: datetime
    value: Decimal


def hours_ago(hours: float, value: str) -> Point:
    return Point(NOW - timedelta(hours=hours), D(value))


# -- windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [("24h", "24h"), (" 24H ", "24h"), ("1d", "24h"), ("1w", "7d"), ("ALL", "all"), ("1y", "1y")],
)
def test_parse_window(text: str, key: str) -> None:
    assert parse_window(text) == key


def test_parse_window_refuses_with_the_valid_list() -> None:
    with pytest.raises(UsageError) as info:
        parse_window("2w")
    assert "'2w'" in info.value.message
    assert "1h, 24h, 7d, 30d, 90d, 1y, all" in info.value.hint


def test_windows_and_start() -> None:
    assert list(WINDOWS) == ["1h", "24h", "7d", "30d", "90d", "1y", "all"]
    assert window_start("7d", NOW) == NOW - timedelta(days=7)
    assert window_start("all", NOW) is None


# -- value change ----------------------------------------------------------------------------

CHANGE_CASES = {
    # The series reaches back: the last point at or before now-24h is 1000 (25 h ago).
    # 1100-1000 = 100, 10.00 %.
    "the series covers 24h": (
        [hours_ago(30, "900"), hours_ago(25, "1000"), hours_ago(2, "1050")],
        "24h", "1100", None, ("100", "10.00", ChangeBasis.HISTORY),
    ),
    # A point exactly at the window start counts. 1h: start value 1050; -50/1050 = -4.7619 %.
    "point at the window start": (
        [hours_ago(1, "1050")], "1h", "1000", None, ("-50", "-4.76", ChangeBasis.HISTORY),
    ),
    # History is 3 h long: 24h falls back to open24h (900): 1100-900 = 200, 22.22 %.
    "24h falls back to open24h": (
        [hours_ago(3, "1000")], "24h", "1100", "900", ("200", "22.22", ChangeBasis.OPEN24H),
    ),
    # Only 24h may fall back: 7d with a 3 h series has no basis.
    "7d has no fallback": (
        [hours_ago(3, "1000")], "7d", "1100", "900", (None, None, ChangeBasis.NONE),
    ),
    # No series point and no open24h.
    "nothing at all": ([], "24h", "1100", None, (None, None, ChangeBasis.NONE)),
    # Start value 0: the change is known, the percentage is not.
    "start value zero": (
        [hours_ago(48, "0")], "24h", "500", None, ("500", None, ChangeBasis.HISTORY),
    ),
    # all: from the first point (400): 1000-400 = 600, 150.00 %.
    "all from the first point": (
        [hours_ago(5000, "400"), hours_ago(10, "800")], "all", "1000", None,
        ("600", "150.00", ChangeBasis.HISTORY),
    ),
    # Rounding half-even: 1/3 -> 33.33 %; 2/3 -> 66.67 %.
    "thirds": ([hours_ago(2, "3")], "1h", "4", None, ("1", "33.33", ChangeBasis.HISTORY)),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CHANGE_CASES))
def test_value_change(name: str) -> None:
    points, window, now_value, open24h, (value, pct, basis) = CHANGE_CASES[name]
    change = value_change(
        points,
        now_value=D(now_value),
        window=window,
        now=NOW,
        open24h=None if open24h is None else D(open24h),
    )
    assert change.window == window
    assert change.value == (None if value is None else D(value))
    assert change.pct == (None if pct is None else D(pct))
    assert str(change.pct) == str(pct) if pct is not None else change.pct is None
    assert change.basis is basis


def test_changes_for_every_window() -> None:
    result = changes_for([hours_ago(48, "100")], now_value=D(110), now=NOW, open24h=None)
    assert list(result) == list(WINDOWS)
    assert [result[k].basis for k in ("1h", "24h", "7d", "all")] == [
        ChangeBasis.HISTORY,
        ChangeBasis.HISTORY,
        ChangeBasis.NONE,
        ChangeBasis.HISTORY,
    ]
    assert change_between("24h", now_value=D(3), start_value=D(2)).pct == D("50.00")


def test_open24h_value() -> None:
    amounts = {"BTC": D("0.5"), "USDT": D(100), "XYZ": D(7), "ETH": D(0)}
    prices = {"BTC": D(60000), "USDT": D(1), "ETH": D(3000)}
    # XYZ is unpriced (ignored); ETH has no amount (ignored): 0.5x58000 + 100x1 = 29100.
    opens = {"BTC": D(58000), "USDT": D(1)}
    assert open24h_value(amounts, prices, opens) == D(29100)
    # A priced, held asset without open24h: no fallback.
    assert open24h_value(amounts, prices, {"BTC": None, "USDT": D(1)}) is None


# -- top movers ------------------------------------------------------------------------------


def test_top_movers_by_price_change() -> None:
    held = [
        HeldAsset("BTC", D("0.5"), D(60000), D(58000)),  # 24h via open24h: +3.45 %
        HeldAsset("ETH", D(2), D(3000)),  # series 3300: -9.09 %
        HeldAsset("SOL", D(10), D(150)),  # series 100: +50 %
        HeldAsset("DOGE", D(1), D("0.5"), D("0.25")),  # worth 0.50 < 1 USD: left out
        HeldAsset("USDT", D(1000), D(1), D(1)),  # cash: never a mover
        HeldAsset("XYZ", D(10), None),  # unpriced: left out
        HeldAsset("ABC", D(10), D(2)),  # no series point, no open24h: left out
        HeldAsset("FLAT", D(10), D(2), D(2)),  # 0 %: neither
        HeldAsset("AAA", D(1), D(150)),  # +50 % like SOL: tie broken by name
    ]
    then = {"ETH": D(3300), "SOL": D(100), "AAA": D(100)}
    gainers, losers = top_movers(held, then, window="24h")
    assert [(m.asset, m.change_pct, m.basis) for m in gainers] == [
        ("AAA", D("50.00"), ChangeBasis.HISTORY),
        ("SOL", D("50.00"), ChangeBasis.HISTORY),
        ("BTC", D("3.45"), ChangeBasis.OPEN24H),  # 2000/58000 = 3.448 %
    ]
    assert [(m.asset, m.change_pct, m.value) for m in losers] == [("ETH", D("-9.09"), D(6000))]
    # 7d: no open24h fallback, BTC drops out; limit applies.
    gainers, _ = top_movers(held, then, window="7d", limit=1)
    assert [m.asset for m in gainers] == ["AAA"]
    # A higher threshold drops AAA (worth 150).
    gainers, _ = top_movers(held, then, window="24h", threshold=D(200))
    assert [m.asset for m in gainers] == ["SOL", "BTC"]


def _row(asset: str, unrealized: str | None, cost: str, value: str | None) -> AssetPnl:
    return AssetPnl(
        asset=asset,
        amount=D(1),
        cost_basis=D(cost),
        realized=D(0),
        unrealized=None if unrealized is None else D(unrealized),
        fees=D(0),
        unknown_basis_amount=D(0),
        price=None if value is None else D(value),
        value=None if value is None else D(value),
    )


def test_pnl_movers() -> None:
    report = PnlReport(
        method=CostMethod.FIFO,
        assets=[
            _row("BTC", "500", "1000", "1500"),  # +50 %
            _row("ETH", "-200", "800", "600"),  # -25 %
            _row("SOL", "500", "0", "500"),  # tie with BTC; cost 0: no pct
            _row("XYZ", None, "10", None),  # no price
            _row("DUST", "0.5", "0.1", "0.6"),  # below 1 USD
        ],
        total_realized=D(0),
        total_unrealized=D(800),
    )
    gainers, losers = pnl_movers(report)
    assert [(m.asset, m.pnl, m.pct) for m in gainers] == [
        ("BTC", D(500), D("50.00")),
        ("SOL", D(500), None),
    ]
    assert [(m.asset, m.pnl, m.pct) for m in losers] == [("ETH", D(-200), D("-25.00"))]


# -- allocation ------------------------------------------------------------------------------


def _positions() -> list[Position]:
    return [
        Position("BTC", D("0.5"), D(30000), "alice", "okx", "trading", "main"),
        Position("BTC", D("0.1"), D(6000), "bob", "okx", "funding", "main"),
        Position("ETH", D(2), D(6000), "alice", "okx", "funding", "main"),
        Position("USDT", D(1000), D(1000), "carol", "kraken", "trading", "side"),
        Position("XYZ", D(7), None, "alice", "okx", "savings", "main"),
        Position("ZERO", D(0), None, "alice", "okx", "savings", "main"),
    ]


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        # Total 43000 (XYZ unpriced). In units of 0.0001: 36000/43000 = 8372.09,
        # 6000/43000 = 1395.35, 1000/43000 = 232.56; floors sum to 9999 and the largest
        # remainder (.56, USDT) gets the last unit.
        ("asset", [("BTC", "36000", "0.8372"), ("ETH", "6000", "0.1395"),
                   ("USDT", "1000", "0.0233")]),
        ("account", [("alice", "36000", "0.8372"), ("bob", "6000", "0.1395"),
                     ("carol", "1000", "0.0233")]),
        ("exchange", [("okx", "42000", "0.9767"), ("kraken", "1000", "0.0233")]),
        # 31000/43000 = 7209.30, 12000/43000 = 2790.70 -> funding gets the unit.
        ("source", [("trading", "31000", "0.7209"), ("funding", "12000", "0.2791")]),
        ("portfolio", [("main", "42000", "0.9767"), ("side", "1000", "0.0233")]),
    ],
)  # fmt: skip
def test_allocation(by: str, expected: list[tuple[str, str, str]]) -> None:
    result = allocate(_positions(), by=by)
    assert result.total == D(43000)
    assert [(s.key, s.value, s.share) for s in result.slices] == [
        (k, D(v), D(s)) for k, v, s in expected
    ]
    assert sum(s.share for s in result.slices) == 1
    assert result.unpriced == ["XYZ"]
    assert result.by is AllocationKey(by)


def test_allocation_thirds_sum_to_one_and_empty() -> None:
    thirds = [Position(a, D(1), D(1)) for a in ("A", "B", "C")]
    shares = [s.share for s in allocate(thirds, by="asset").slices]
    assert shares == [D("0.3334"), D("0.3333"), D("0.3333")]  # tie: first key gets the unit
    empty = allocate([Position("X", D(1), None)], by="asset")
    assert (empty.total, empty.slices, empty.unpriced) == (0, [], ["X"])
