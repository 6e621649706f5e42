"""Proof that real, unpatched clients accept the sandbox: python-okx, ccxt, ccxt.pro."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import ccxt.pro as ccxtpro
import pytest
from okx.Account import AccountAPI
from okx.Finance.Savings import SavingsAPI
from okx.Funding import FundingAPI
from okx.Trade import TradeAPI

from keyfolio.sandbox.core.server import SandboxThread, run_sandbox
from keyfolio.sandbox.venues.okx.state import SandboxState, parse_state

# -- python-okx (sync httpx): the sandbox runs in a background thread ---------------------


def _sdk_args(okx_helper: Any, url: str) -> dict[str, Any]:
    key = okx_helper.keys["alice"]
    return {
        "api_key": key["apiKey"],
        "api_secret_key": key["secret"],
        "passphrase": key["passphrase"],
        "flag": "0",
        "domain": url,
        "debug": False,
    }


def test_python_okx_reads_everything(sandbox_url: str, okx: Any) -> None:
    args = _sdk_args(okx, sandbox_url)
    account_api = AccountAPI(**args)
    funding_api = FundingAPI(**args)
    savings_api = SavingsAPI(**args)
    trade_api = TradeAPI(**args)
    try:
        balance = account_api.get_account_balance()
        assert balance["code"] == "0"
        details = {d["ccy"]: d for d in balance["data"][0]["details"]}
        assert details["BTC"]["eq"] == "0.5"
        assert account_api.get_account_balance(ccy="USDT")["data"][0]["details"][0]["ccy"] == "USDT"

        config = account_api.get_account_config()
        assert config["code"] == "0" and config["data"][0]["perm"] == "read_only"

        funding = funding_api.get_balances()
        assert {r["ccy"]: r["bal"] for r in funding["data"]} == {"ETH": "2", "USDT": "50"}

        savings = savings_api.get_saving_balance()
        assert {r["ccy"]: r["amt"] for r in savings["data"]} == {"ETH": "1.5", "USDT": "500"}

        history = trade_api.get_fills_history("SPOT")
        assert [r["instId"] for r in history["data"]] == ["ETH-USDT", "BTC-USDT"]
        recent = trade_api.get_fills(instType="SPOT", limit="1")
        assert len(recent["data"]) == 1
    finally:
        for api in (account_api, funding_api, savings_api, trade_api):
            api.close()


def test_python_okx_sees_auth_errors(state: SandboxState, okx: Any) -> None:
    args = {**_sdk_args(okx, ""), "passphrase": "wrong"}
    with SandboxThread(state) as sandbox:
        api = AccountAPI(**{**args, "domain": sandbox.url})
        try:
            answer = api.get_account_balance()
        finally:
            api.close()
    assert answer == {
        "code": "50105",
        "data": [],
        "msg": 'Request header "OK-ACCESS-PASSPHRASE" incorrect.',
    }


# -- ccxt.async_support -------------------------------------------------------------------


async def test_ccxt_balances_and_deposits(sandbox: str, okx: Any) -> None:
    exchange = ccxt.okx(okx.ccxt_config(sandbox))
    try:
        trading = await exchange.fetch_balance()
        assert trading["BTC"]["total"] == 0.5 and trading["USDT"]["free"] == 1000
        assert trading["info"]["data"][0]["details"][0]["eq"] == "0.5"
        funding = await exchange.fetch_balance({"type": "funding"})
        assert funding["total"] == {"ETH": 2.0, "USDT": 50.0}
        deposits = await exchange.fetch_deposits()
        assert [(d["currency"], d["amount"], d["status"]) for d in deposits] == [
            ("USDT", 20000.0, "ok"),
            ("ETH", 3.0, "ok"),
        ]
        assert deposits[1]["txid"] == "0xabc" and deposits[1]["type"] == "deposit"
        since = await exchange.fetch_deposits(since=okx.t0 - 5_000_000)
        assert [d["currency"] for d in since] == ["ETH"]
        withdrawals = await exchange.fetch_withdrawals()
        assert withdrawals[0]["fee"] == {"currency": "USDT", "cost": 1.0}
        accounts = await exchange.fetch_accounts()
        assert accounts[0]["info"]["perm"] == "read_only"
        assert "BTC/USDT" in exchange.markets and "XYZ/USDC" in exchange.markets
    finally:
        await exchange.close()


def _many_fills(count: int, start: int) -> list[dict[str, str]]:
    return [
        {"instId": "BTC-USDT", "side": "buy" if i % 3 else "sell", "fillPx": str(50000 + i),
         "fillSz": "0.01", "fee": "-0.00001" if i % 3 else "-0.5",
         "ts": str(start + i * 60_000)}
        for i in range(count)
    ]  # fmt: skip


@pytest.fixture
async def busy_url(okx: Any) -> Any:
    data = {
        "tickers": {"BTC-USDT": {"last": "60000"}},
        "keys": [{"perm": "read_only", "account": "alice", **okx.keys["alice"]}],
        "accounts": {"alice": {"trading": {"BTC": "1"}, "fills": _many_fills(250, okx.t0)}},
    }
    async with run_sandbox(parse_state(data)) as url:
        yield url


async def test_ccxt_my_trades_paginate_true(busy_url: str, okx: Any) -> None:
    exchange = ccxt.okx(okx.ccxt_config(busy_url))
    try:
        trades = await exchange.fetch_my_trades("BTC/USDT", params={"paginate": True})
    finally:
        await exchange.close()
    assert len(trades) == 250
    assert len({t["id"] for t in trades}) == 250
    stamps = [t["timestamp"] for t in trades]
    assert stamps == sorted(stamps) and stamps[0] == okx.t0
    sell = trades[0]
    assert (sell["side"], sell["fee"]["currency"], sell["fee"]["cost"]) == ("sell", "USDT", 0.5)
    assert trades[1]["fee"] == {"currency": "BTC", "cost": 0.00001}


async def test_ccxt_my_trades_manual_pages(busy_url: str, okx: Any) -> None:
    exchange = ccxt.okx(okx.ccxt_config(busy_url))
    seen: list[dict[str, Any]] = []
    try:
        page = await exchange.fetch_my_trades(limit=100)
        while page:
            seen.extend(page)
            oldest_bill = min(page, key=lambda t: t["timestamp"])["info"]["billId"]
            page = await exchange.fetch_my_trades(limit=100, params={"after": oldest_bill})
    finally:
        await exchange.close()
    assert len(seen) == 250 and len({t["id"] for t in seen}) == 250


async def test_ccxt_since_uses_begin(busy_url: str, okx: Any) -> None:
    exchange = ccxt.okx(okx.ccxt_config(busy_url))
    try:
        trades = await exchange.fetch_my_trades(since=okx.t0 + 245 * 60_000)
    finally:
        await exchange.close()
    assert len(trades) == 5


async def test_ccxt_earn_via_implicit_api(sandbox: str, okx: Any) -> None:
    exchange = ccxt.okx(okx.ccxt_config(sandbox))
    try:
        savings = await exchange.private_get_finance_savings_balance()
        earn = await exchange.private_get_finance_staking_defi_orders_active()
        valuation = await exchange.private_get_asset_asset_valuation({"ccy": "USDT"})
    finally:
        await exchange.close()
    assert {r["ccy"] for r in savings["data"]} == {"ETH", "USDT"}
    assert earn["data"][0]["investData"] == [{"ccy": "SOL", "amt": "10"}]
    assert valuation["data"][0]["totalBal"] == "42050"


# -- ccxt.pro watch_balance ----------------------------------------------------------------


async def _until_waiting(exchange: Any, url: str, message_hash: str) -> None:
    """Until ccxt waits for ``message_hash`` (its own state: no event to await)."""
    async with asyncio.timeout(30):  # only bounds a failure
        while True:
            client = exchange.clients.get(url)
            if client is not None and message_hash in client.futures:
                return
            await asyncio.sleep(0.005)


async def test_ccxt_pro_watch_balance_receives_trade_push(
    sandbox: str, okx: Any, http: aiohttp.ClientSession
) -> None:
    exchange = ccxtpro.okx(okx.ccxt_config(sandbox))
    ws_url = sandbox.replace("http", "ws", 1) + "/ws/v5/private"
    try:
        snapshot = await exchange.watch_balance()
        assert snapshot["info"]["eventType"] == "snapshot"
        assert snapshot["BTC"]["total"] == 0.5
        waiting = asyncio.create_task(exchange.watch_balance())
        await _until_waiting(exchange, ws_url, "account")
        status, answer = await okx.control(
            http, sandbox + "/__sandbox__/trade",
            "POST", {"account": "alice", "instId": "BTC-USDT", "side": "sell", "sz": "0.1"},
        )  # fmt: skip
        assert (status, answer["pushed"]) == (200, 1)
        update = await asyncio.wait_for(waiting, 30)
    finally:
        await exchange.close()
    assert update["info"]["eventType"] == "event_update"
    details = {d["ccy"]: d for d in update["info"]["data"][0]["details"]}
    # sold 0.1 BTC at 60000: +6000 USDT minus the 0.1 % fee (6 USDT)
    assert details["BTC"]["eq"] == "0.4" and details["USDT"]["eq"] == "6994"
    assert details["BTC"]["coinUsdPrice"] == "60000"
    assert update["BTC"]["total"] == 0.4 and update["USDT"]["total"] == 6994
    assert update["ZZZ"]["total"] == 7  # kept from the snapshot (ccxt merges pushes)


async def test_ccxt_load_markets_requests_all_answer(
    sandbox: str, okx: Any, http: aiohttp.ClientSession
) -> None:
    exchange = ccxt.okx(okx.ccxt_config(sandbox))
    try:
        await exchange.load_markets()
    finally:
        await exchange.close()
    _, log = await okx.control(http, sandbox + "/__sandbox__/requests", "GET")
    paths = sorted(entry["path"] for entry in log)
    assert paths == [
        "/api/v5/asset/currencies",
        "/api/v5/public/instruments?instType=FUTURES",
        "/api/v5/public/instruments?instType=OPTION&uly=BTC-USD",
        "/api/v5/public/instruments?instType=OPTION&uly=ETH-USD",
        "/api/v5/public/instruments?instType=SPOT",
        "/api/v5/public/instruments?instType=SWAP",
    ]
    assert {(entry["code"], entry["status"]) for entry in log} == {("0", 200)}
    assert [e["key"] for e in log if e["path"] == "/api/v5/asset/currencies"] == ["alice-key"]


def test_python_okx_demo_key_with_flag_1(sandbox_url: str, okx: Any) -> None:
    key = okx.keys["demo"]
    api = AccountAPI(
        api_key=key["apiKey"], api_secret_key=key["secret"], passphrase=key["passphrase"],
        flag="1", domain=sandbox_url, debug=False,
    )  # fmt: skip
    live = AccountAPI(
        api_key=key["apiKey"], api_secret_key=key["secret"], passphrase=key["passphrase"],
        flag="0", domain=sandbox_url, debug=False,
    )  # fmt: skip
    try:
        assert api.get_account_config()["code"] == "0"
        assert live.get_account_config()["code"] == "50101"
    finally:
        api.close()
        live.close()
