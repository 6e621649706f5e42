"""The Kraken sandbox judged by clients it did not write: krakenex (its ``uri``) and ccxt (its
``urls['api']``), each changed only in its base URL, and ccxt.pro's ``watch_balance``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import ccxt
import krakenex
import pytest
from cli_support import control
from kraken_support import KR_BOB, KR_READ, SMALL_FILLS, kraken_state

from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state


@pytest.fixture
def url() -> Iterator[str]:
    with SandboxThread(parse_state(kraken_state()), rate_limit=False) as server:
        yield server.url


def next_millisecond() -> None:
    """Wait for the clock's next millisecond: krakenex's nonce is ``int(1000 * time.time())``,
    unguarded, so two calls within one millisecond would reuse a nonce (a krakenex bug)."""
    start = int(time.time() * 1000)
    while int(time.time() * 1000) == start:
        pass


def sdk(url: str, key: dict[str, str] = KR_READ) -> krakenex.API:
    api = krakenex.API(key=key["apiKey"], secret=key["secret"])
    api.uri = url
    return api


def private(api: krakenex.API, method: str, data: dict[str, Any] | None = None) -> Any:
    next_millisecond()
    return api.query_private(method, data or {})


def test_krakenex_reads_balances_pairs_and_history(url: str) -> None:
    api = sdk(url)
    try:
        assert api.query_public("Time")["result"]["unixtime"] > 1_700_000_000
        ticker = api.query_public("Ticker", {"pair": "XBTUSD"})["result"]
        assert ticker["XXBTZUSD"]["c"][0] == "60000.0"
        balances = private(api, "BalanceEx")["result"]
        assert balances["XXBT"]["balance"] == "0.5000000000" and "SOL.F" in balances
        info = private(api, "GetApiKeyInfo")["result"]
        assert "query-funds" in info["permissions"]
        trades = private(api, "TradesHistory", {"ofs": 50})["result"]
        assert trades["count"] == SMALL_FILLS + 3 and len(trades["trades"]) == 5
        assert private(api, "Ledgers", {"type": "withdrawal"})["result"]["count"] == 1
    finally:
        api.close()


def test_krakenex_sees_kraken_errors(url: str) -> None:
    api = sdk(url, {**KR_READ, "secret": KR_BOB["secret"]})
    try:
        assert private(api, "Balance") == {"error": ["EAPI:Invalid signature"]}
        api = sdk(url)
        assert private(api, "WithdrawMethods") == {"error": ["EGeneral:Permission denied"]}
        nonce = api._nonce()  # krakenex's own nonce, then a smaller one
        assert api._query("/0/private/Balance", {"nonce": nonce - 10**6}, headers={
            "API-Key": KR_READ["apiKey"],
            "API-Sign": api._sign({"nonce": nonce - 10**6}, "/0/private/Balance"),
        }) == {"error": ["EAPI:Invalid nonce"]}  # fmt: skip
    finally:
        api.close()


def ccxt_kraken(url: str, key: dict[str, str] = KR_READ) -> Any:
    exchange = ccxt.kraken(
        {"apiKey": key["apiKey"], "secret": key["secret"], "enableRateLimit": False}
    )
    exchange.urls["api"]["public"] = exchange.urls["api"]["private"] = url
    return exchange


def test_ccxt_reads_balances_trades_ledger_and_transfers(url: str) -> None:
    exchange = ccxt_kraken(url)
    try:
        balance = exchange.fetch_balance()
        assert balance["info"]["result"]["XXBT"]["balance"] == "0.5000000000"
        assert {"BTC", "BTC.M", "ETH2.S", "SOL.F", "USD"} <= set(balance["total"])
        ticker = exchange.fetch_ticker("BTC/USD")
        assert ticker["info"]["o"] == "58000.0"  # today's open, not a 24 h open
        trades = exchange.fetch_my_trades(params={"ofs": 50})
        assert [t["info"]["pair"] for t in trades] == ["XXBTZUSD", "XETHZUSD"] + ["XXBTZUSD"] * 3
        ledger = exchange.fetch_ledger(params={"type": "deposit"})
        assert sorted(entry["info"]["asset"] for entry in ledger) == ["XETH", "ZUSD"]
        assert [d["info"]["refid"][:1] for d in exchange.fetch_deposits()] == ["F", "F"]
        [withdrawal] = exchange.fetch_withdrawals(params={"paginate": True})
        assert withdrawal["info"]["fee"] == "1.00000000"
        assert exchange.privatePostGetApiKeyInfo()["result"]["ipAllowlist"] == []
    finally:
        exchange.close()


def test_ccxt_maps_kraken_errors(url: str) -> None:
    wrong = ccxt_kraken(url, {**KR_READ, "secret": KR_BOB["secret"]})
    with pytest.raises(ccxt.ExchangeError) as raised:  # not an AuthenticationError in ccxt
        wrong.fetch_balance()
    assert "EAPI:Invalid signature" in str(raised.value)
    with pytest.raises(ccxt.PermissionDenied):
        ccxt_kraken(url).privatePostWithdrawMethods()
    control(url, "/__sandbox__/faults", {"path": "/0/private/BalanceEx", "mode": "rate_limit"})
    with pytest.raises(ccxt.DDoSProtection):
        ccxt_kraken(url).fetch_balance()


async def test_ccxt_pro_watch_balance_uses_the_v2_balances_channel(url: str) -> None:
    import ccxt.pro as ccxtpro

    exchange = ccxtpro.kraken(
        {"apiKey": KR_BOB["apiKey"], "secret": KR_BOB["secret"], "enableRateLimit": False}
    )
    ws = url.replace("http://", "ws://")
    exchange.urls["api"].update({"public": url, "private": url})
    names = ("public", "private", "publicV2", "privateV2")
    exchange.urls["api"]["ws"] = {n: ws + ("/v2" if n.endswith("V2") else "") for n in names}
    try:
        first = await asyncio.wait_for(exchange.watch_balance(), 10)
        assert first["BTC"]["total"] == 2.0  # the snapshot
        pending = asyncio.ensure_future(exchange.watch_balance())
        sold = {"account": "bob", "symbol": "BTC-USD", "side": "sell", "amount": "0.5"}
        await asyncio.to_thread(control, url, "/__sandbox__/trade", sold)
        second = await asyncio.wait_for(pending, 10)
        assert second["BTC"]["total"] == 1.5
        subs = (await asyncio.to_thread(control, url, "/__sandbox__/ws"))["connections"]
        assert [c["subs"] for c in subs if c["private"]] == [[{"channel": "balances",
                                                              "account": "bob"}]]  # fmt: skip
    finally:
        await exchange.close()
