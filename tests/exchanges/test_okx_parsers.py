"""Parsing OKX's raw V5 balance JSON: exact Decimals from strings, cashBal not eq."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from keyfolio.domain.accounts import Region
from keyfolio.errors import ExchangeResponseError
from keyfolio.exchanges.okx import (
    parse_funding,
    parse_onchain_earn,
    parse_savings,
    parse_trading,
    ws_url_for,
)

RECORDED = json.loads(
    (Path(__file__).parent / "fixtures" / "okx_recorded_balances.json").read_text("utf-8")
)


def test_trading_takes_cash_balance_of_recorded_okx_response() -> None:
    amounts = parse_trading(RECORDED["trading"]["data"])
    assert amounts["BTC"] == Decimal("1.06126645222")
    assert amounts["USDT"] == Decimal("0.000258796")
    assert amounts["USDC"] == Decimal("2973.521")
    assert len(amounts) == 13
    assert all(isinstance(v, Decimal) for v in amounts.values())


def test_trading_uses_cashbal_not_eq() -> None:
    data = [
        {
            "totalEq": "1",
            "details": [
                {"ccy": "BTC", "cashBal": "0.5", "eq": "0.5123", "availBal": "0.4"},
                {"ccy": "ETH", "cashBal": "0", "eq": "0.01"},
            ],
        }
    ]
    assert parse_trading(data) == {"BTC": Decimal("0.5")}


def test_funding_recorded() -> None:
    assert parse_funding(RECORDED["funding"]["data"]) == {"TUSD": Decimal("100")}
    assert parse_funding(RECORDED["funding_empty"]["data"]) == {}


def test_savings_amt() -> None:
    data = [{"ccy": "USDT", "amt": "500.123456789", "earnings": "1.2", "rate": "0.01"}]
    assert parse_savings(data) == {"USDT": Decimal("500.123456789")}


def test_onchain_earn_sums_invest_data_per_currency() -> None:
    data = [
        {"ccy": "SOL", "investData": [{"ccy": "SOL", "amt": "10"}], "earningData": []},
        {"ccy": "SOL", "investData": [{"ccy": "SOL", "amt": "2.5"}]},
        {"ccy": "DOT", "investData": [{"ccy": "DOT", "amt": "0.1"}, {"ccy": "DOT", "amt": "0.2"}]},
    ]
    assert parse_onchain_earn(data) == {"SOL": Decimal("12.5"), "DOT": Decimal("0.3")}


def test_exact_decimals_no_float_rounding() -> None:
    data = [{"ccy": "X", "bal": "0.1"}, {"ccy": "X", "bal": "0.2"}]
    assert parse_funding(data)["X"] == Decimal("0.3")


@pytest.mark.parametrize(
    "data",
    [
        {"not": "a list"},
        [{"bal": "1"}],
        [{"ccy": "BTC", "bal": 1.5}],
        [{"ccy": "BTC", "bal": "abc"}],
        ["string row"],
    ],
)
def test_unreadable_rows_raise_response_error(data: Any) -> None:
    with pytest.raises(ExchangeResponseError):
        parse_funding(data)


def test_ws_urls() -> None:
    assert ws_url_for(Region.GLOBAL, None) == "wss://ws.okx.com:8443/ws/v5"
    assert ws_url_for(Region.EEA, None) == "wss://wseea.okx.com:8443/ws/v5"
    assert ws_url_for(Region.US, None) == "wss://wsus.okx.com:8443/ws/v5"
    assert ws_url_for(Region.US, "http://127.0.0.1:8765/") == "ws://127.0.0.1:8765/ws/v5"
    assert ws_url_for(Region.EEA, "https://proxy.example") == "wss://proxy.example/ws/v5"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([{"ccy": "USDT", "bal": "1e30"}], "funding balance USDT '1e30' is larger than 10^18"),
        (
            [{"ccy": "BTC", "bal": "0.0000000000000000001"}],
            "funding balance BTC '0.0000000000000000001' has more than 18 decimal places",
        ),
        # Each row is within the bounds, their sum is not.
        (
            [{"ccy": "X", "bal": "900000000000000000"}, {"ccy": "X", "bal": "200000000000000000"}],
            "the X total 1100000000000000000 is larger than 10^18",
        ),
    ],
)
def test_amounts_outside_the_bounds_are_unreadable(data: Any, fragment: str) -> None:
    # Never rounded: the whole source is refused, naming the currency and the value.
    with pytest.raises(ExchangeResponseError) as caught:
        parse_funding(data)
    assert fragment in str(caught.value)
    assert "docs/money.md" in caught.value.hint and "last good balances" in caught.value.hint


def test_trailing_zeros_beyond_18_places_are_not_refused_but_dropped() -> None:
    data = [{"ccy": "BTC", "bal": "0.500000000000000000000000"}]
    amounts = parse_funding(data)
    assert amounts == {"BTC": Decimal("0.5")}
    assert amounts["BTC"].as_tuple().exponent == -18  # 24 places of zeros kept only 18
