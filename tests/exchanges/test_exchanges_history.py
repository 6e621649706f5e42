"""OKX history pages through real ccxt against the sandbox: raw strings, fee sign, paging."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from exchanges_support import BASE_STATE, alice_credentials, requests_log, sandbox, spec_for

from keyfolio.config import Settings
from keyfolio.domain.history import TradeSide, TransferKind
from keyfolio.errors import ExchangeResponseError, ExchangeUnsupportedError
from keyfolio.exchanges.history import HistoryContext
from keyfolio.exchanges.okx import OkxConnector
from keyfolio.exchanges.okx_history import OkxStream, fetch_page, okx_streams
from keyfolio.exchanges.okx_records import trade_from_okx, withdrawal_from_okx
from keyfolio.exchanges.pool import ConnectorPool

T0 = (int(time.time()) - 86_400) * 1000  # a whole second a day ago: inside every API window
KEYS = [
    "trades:SPOT", "trades:MARGIN", "trades:SWAP", "trades:FUTURES", "trades:OPTION",
    "deposits", "withdrawals", "ledger:trading", "ledger:funding", "archive:bills",
    "archive:fills",
]  # fmt: skip


def streams_of(connector: object) -> dict[str, OkxStream]:
    assert isinstance(connector, OkxConnector)
    return {stream.key: stream for stream in okx_streams(connector)}


def state(fills: int = 0) -> dict[str, Any]:
    data = copy.deepcopy(BASE_STATE)
    alice = data["accounts"]["alice"]
    alice["fills"] = [
        {
            "instId": "ETH-USDT",
            "side": "buy" if i % 2 else "sell",
            "fillPx": "2654.980000000000000001",
            "fillSz": "7533",  # whole units: the bill's sz x px keeps within 18 places
            "fee": "-0.000007533" if i % 2 else "0.01",  # a rebate on every sell
            "feeCcy": "ETH" if i % 2 else "USDT",
            "ts": str(T0 + i),
        }
        for i in range(fills)
    ]
    alice["deposits"] = [{"ccy": "BTC", "amt": "0.00000001", "ts": str(T0)}]
    alice["withdrawals"] = [
        {"ccy": "USDT", "amt": "100", "fee": "1.5", "ts": str(T0 + 1), "state": "-2"}
    ]
    return data


async def test_pages_walk_back_with_exact_strings_and_fee_signs(settings: Settings) -> None:
    async with sandbox(state(fills=150), rate_limit=False) as url:
        async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
            connector = pool.connector(spec_for(url), alice_credentials())
            assert isinstance(connector, OkxConnector)
            streamed = await connector.history_streams(HistoryContext())
            assert [stream.key for stream in streamed] == KEYS
            streams = streams_of(connector)
            first = await fetch_page(connector, streams["trades:SPOT"], after=None)
            second = await fetch_page(connector, streams["trades:SPOT"], after=first.records[-1][0])
            deposits = await fetch_page(connector, streams["deposits"], after=None)
            withdrawals = await fetch_page(connector, streams["withdrawals"], after=None)
            log = await requests_log(url)
    assert first.full and len(first.records) == 100
    assert not second.full and len(second.records) == 50
    keys = [key for key, _ in first.records + second.records]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == 150
    trades = {t.at: t for _, t in first.records + second.records}
    buy, sell = trades[datetime.fromtimestamp(T0 // 1000, UTC).replace(microsecond=1000)], None
    sell = trades[datetime.fromtimestamp(T0 // 1000, UTC)]
    assert buy.price == Decimal("2654.980000000000000001")  # no float ever touched it
    assert buy.amount == Decimal("7533") and buy.side is TradeSide.BUY
    assert buy.fee == Decimal("0.000007533") and buy.fee_asset == "ETH"  # paid
    assert sell.fee == Decimal("-0.01") and sell.fee_asset == "USDT"  # rebate
    assert buy.trade_id.startswith("ETH-USDT:") and (buy.base, buy.quote) == ("ETH", "USDT")
    [(_, deposit)] = deposits.records
    assert deposit.amount == Decimal("0.00000001") and deposit.kind is TransferKind.DEPOSIT
    [(_, withdrawal)] = withdrawals.records
    assert withdrawal.fee == Decimal("1.5") and withdrawal.status == "canceled"
    paths = [entry["path"] for entry in log]
    assert any(p.startswith("/api/v5/trade/fills-history?") and "instType=SPOT" in p for p in paths)
    assert any("after=" in p for p in paths if p.startswith("/api/v5/trade/fills-history"))


async def test_ledgers_of_both_accounts(settings: Settings) -> None:
    async with sandbox(state(fills=3), rate_limit=False) as url:
        async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
            connector = pool.connector(spec_for(url), alice_credentials())
            assert isinstance(connector, OkxConnector)
            streams = streams_of(connector)
            trading = await fetch_page(connector, streams["ledger:trading"], after=None)
            funding = await fetch_page(connector, streams["ledger:funding"], after=None)
            log = await requests_log(url)
    assert len(trading.records) == 6 and {e.source for _, e in trading.records} == {"trading"}
    assert {e.kind for _, e in trading.records} == {"trade"}
    [(_, bill)] = funding.records  # the canceled withdrawal made no bill
    assert (bill.kind, bill.change, bill.asset) == ("deposit", Decimal("0.00000001"), "BTC")
    paths = [entry["path"] for entry in log]
    assert any(p.startswith("/api/v5/account/bills-archive") for p in paths)
    assert any(p.startswith("/api/v5/asset/bills") for p in paths)


async def test_other_exchanges_are_unsupported(settings: Settings) -> None:
    async with ConnectorPool(settings) as pool:
        from keyfolio.domain.accounts import AccountSpec, Credentials

        connector = pool.connector(
            AccountSpec(exchange="gate", name="k"),
            Credentials(fields={"apiKey": "a", "secret": "b"}),
        )
        with pytest.raises(ExchangeUnsupportedError) as caught:
            await connector.history_streams(HistoryContext())
    assert "csv" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("field", "value"),
    [("fillSz", 0.5), ("fillSz", "abc"), ("side", "short"), ("instId", "BTC"), ("ts", "x")],
)
def test_unreadable_fill_is_a_response_error(field: str, value: Any) -> None:
    row = {
        "instId": "BTC-USDT",
        "tradeId": "1",
        "billId": "2",
        "side": "buy",
        "fillSz": "0.1",
        "fillPx": "1",
        "fee": "0",
        "ts": "1",
        field: value,
    }
    with pytest.raises(ExchangeResponseError):
        trade_from_okx("a", row)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("fillSz", "1e30", "is larger than 10^18"),
        ("fillPx", "0.0000000000000000001", "has more than 18 decimal places"),
        ("fee", "-1000000000000000000.5", "is larger than 10^18"),
    ],
)
def test_fill_amounts_outside_the_bounds_are_unreadable(
    field: str, value: str, reason: str
) -> None:
    row = {"instId": "BTC-USDT", "tradeId": "1", "billId": "2", "side": "buy", "fillSz": "0.1",
           "fillPx": "1", "fee": "0", "ts": "1", field: value}  # fmt: skip
    with pytest.raises(ExchangeResponseError) as caught:
        trade_from_okx("a", row)
    assert f"{field} {value!r} {reason}" in str(caught.value)
    assert "docs/money.md" in caught.value.hint


def test_the_widest_fee_is_negated_exactly() -> None:
    row = {"instId": "BTC-USDT", "tradeId": "1", "billId": "2", "side": "buy", "fillSz": "0.1",
           "fillPx": "1", "fee": "-999999999999999999.999999999999999999", "ts": "1"}  # fmt: skip
    _, trade = trade_from_okx("a", row)
    assert trade.fee == Decimal("999999999999999999.999999999999999999")


def test_withdrawal_fee_in_another_asset_is_not_charged_to_the_amount() -> None:
    _, transfer = withdrawal_from_okx(
        "a",
        {"wdId": "9", "ccy": "USDT", "amt": "5", "fee": "0.1", "feeCcy": "TRX", "ts": "1000"},
    )
    assert transfer.fee == Decimal(0) and transfer.status == "pending"
