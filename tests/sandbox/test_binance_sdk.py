"""The Binance sandbox judged by clients it did not write: python-binance and ccxt, each changed
only in its base URL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ccxt
import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException
from binance_support import BN_IP, BN_READ, binance_state

from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with SandboxThread(parse_state(binance_state()), rate_limit=False) as server:
        yield server.url


@contextmanager
def sdk(url: str, key: dict[str, str] = BN_READ) -> Iterator[Client]:
    """python-binance with the sandbox as its base URL (the class's two URL templates).

    The client makes itself an event loop it never closes; closing it here keeps its sockets
    from being reported (as a ResourceWarning) in whichever test runs next."""

    class Sandboxed(Client):
        API_URL = url + "/api"
        MARGIN_API_URL = url + "/sapi"

    client = Sandboxed(key["apiKey"], key["secret"])
    try:
        yield client
    finally:
        client.close_connection()
        client.loop.close()
        asyncio.set_event_loop(None)


def by_asset(rows: list[dict[str, Any]], field: str) -> dict[str, str]:
    return {row["asset"]: row[field] for row in rows}


def test_python_binance_reads_every_source(url: str) -> None:
    with sdk(url) as client:
        assert abs(client.get_server_time()["serverTime"] - time.time() * 1000) < 60_000
        spot = by_asset(client.get_account(omitZeroBalances="true")["balances"], "free")
        assert spot["BTC"] == "0.50000000" and spot["LDBTC"] == "0.25000000"  # the LD mirror
        assert spot["LDO"] == "300.00000000"
        assert by_asset(client.funding_wallet(), "free") == {"BNB": "2", "USDT": "40"}
        flexible = client.get_simple_earn_flexible_product_position()
        assert by_asset(flexible["rows"], "totalAmount") == {"BTC": "0.25", "USDT": "500"}
        locked = client.get_simple_earn_locked_product_position()
        assert by_asset(locked["rows"], "amount") == {"SOL": "10"}
        permissions = client.get_account_api_permissions()
        assert permissions["enableReading"] is True and permissions["enableWithdrawals"] is False


def test_python_binance_reads_the_records(url: str) -> None:
    with sdk(url) as client:
        trades = client.get_my_trades(symbol="BTCUSDT", fromId=0)
        assert [t["qty"] for t in trades] == ["0.50000000"] * 3
        assert trades[0]["commissionAsset"] == "BTC" and trades[0]["isBuyer"] is True
        start = 1_700_000_000_000
        deposits = client.get_deposit_history(startTime=start - 86_400_000, endTime=start + 1)
        assert [d["amount"] for d in deposits] == ["1"]
        withdrawals = client.get_withdraw_history(startTime=start, endTime=start + 30 * 86_400_000)
        assert [(w["amount"], w["transactionFee"]) for w in withdrawals] == [("100", "1")]


@pytest.mark.parametrize(
    ("key", "code"),
    [({**BN_READ, "secret": "not-the-secret"}, -1022), (BN_IP, -2015)],
)
def test_python_binance_sees_binance_errors(url: str, key: dict[str, str], code: int) -> None:
    with sdk(url, key) as client:
        with pytest.raises(BinanceAPIException) as raised:
            client.get_account()
        assert raised.value.code == code


def test_ccxt_reads_spot_funding_and_trades(url: str) -> None:
    exchange = ccxt.binance({
        "apiKey": BN_READ["apiKey"], "secret": BN_READ["secret"], "enableRateLimit": False,
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                    "fetchMargins": False},
    })  # fmt: skip
    exchange.urls["api"] = {
        name: url + "/sapi/v1" if name == "sapi" else url + "/api/v3"
        for name in ("public", "private", "sapi")
    }
    try:
        spot = exchange.fetch_balance()
        assert spot["info"]["balances"] and {"BTC", "LDBTC", "LDO"} <= set(spot["total"])
        funding = exchange.fetch_balance({"type": "funding"})
        assert set(funding["total"]) == {"BNB", "USDT"}
        trades = exchange.fetch_my_trades("BTC/USDT", params={"fromId": 0})
        assert [t["info"]["qty"] for t in trades] == ["0.50000000"] * 3
    finally:
        exchange.close()
