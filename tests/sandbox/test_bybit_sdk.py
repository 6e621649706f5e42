"""The Bybit sandbox judged by clients it did not write: pybit and ccxt (and ccxt.pro), each
changed only in its base URL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import ccxt
import pytest
from bybit_support import BY_IP, BY_READ, DAY_MS, OLD_DEPOSIT_MS, T0, bybit_state
from cli_support import control
from pybit.exceptions import InvalidRequestError
from pybit.unified_trading import HTTP

from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with SandboxThread(parse_state(bybit_state()), rate_limit=False) as server:
        yield server.url


def sdk(url: str, key: dict[str, str] = BY_READ) -> HTTP:
    """pybit on the sandbox. pybit builds ``https://{SUBDOMAIN}.{DOMAIN}.{TLD}`` from
    ``testnet``/``demo``/``domain``/``tld``, which cannot name ``http://127.0.0.1:PORT``; every
    call is ``f"{session.endpoint}{path}"``, so the base URL is that one attribute."""
    session = HTTP(api_key=key["apiKey"], api_secret=key["secret"], max_retries=1)
    session.endpoint = url
    return session


def result(answer: Any) -> Any:
    assert answer["retCode"] == 0, answer
    return answer["result"]


def test_pybit_reads_every_source_and_the_key(url: str) -> None:
    session = sdk(url)
    server = int(result(session.get_server_time())["timeSecond"])
    assert abs(server - time.time()) < 60
    wallet = result(session.get_wallet_balance(accountType="UNIFIED"))["list"][0]
    assert {c["coin"]: c["walletBalance"] for c in wallet["coin"]}["BTC"] == "0.5"
    fund = result(session.get_coins_balance(accountType="FUND"))["balance"]
    assert {r["coin"]: r["walletBalance"] for r in fund}["BBSOL"] == "9.5"
    one = result(session.get_coin_balance(accountType="FUND", coin="USDT"))["balance"]
    assert one["walletBalance"] == "40"  # an object, not a list
    flexible = result(session.get_staked_position(category="FlexibleSaving"))["list"]
    assert {r["coin"]: r["amount"] for r in flexible}["USDT"] == "500"
    onchain = result(session.get_staked_position(category="OnChain"))["list"]
    assert {r["coin"] for r in onchain} == {"ETH", "SOL"}
    key = result(session.get_api_key_information())
    assert key["readOnly"] == 1 and key["ips"] == ["*"]
    assert result(session.get_account_info())["unifiedMarginStatus"] == 5
    tickers = result(session.get_tickers(category="spot"))["list"]
    assert {t["symbol"]: t["prevPrice24h"] for t in tickers}["BTCUSDT"] == "58000"
    spot = result(session.get_instruments_info(category="spot"))["list"]
    assert {(i["baseCoin"], i["quoteCoin"]) for i in spot} >= {("BBSOL", "USDT"), ("ABC", "BTC")}


def test_pybit_pages_the_records_with_its_own_encoding(url: str) -> None:
    session = sdk(url)
    window = {"category": "spot", "startTime": T0, "endTime": T0 + 7 * DAY_MS, "limit": 2}
    first = result(session.get_executions(**window))
    cursor = first["nextPageCursor"]
    rest = result(session.get_executions(**window, cursor=cursor))  # signed as pybit sends it
    assert [r["execQty"] for r in first["list"] + rest["list"]] == ["0.5"] * 3
    deposits = result(session.get_deposit_records(startTime=T0 - DAY_MS, endTime=T0 + DAY_MS))
    assert {d["id"] for d in deposits["rows"]} == {"d2", "d4"}
    old = {"startTime": OLD_DEPOSIT_MS - DAY_MS, "endTime": OLD_DEPOSIT_MS + DAY_MS}
    assert result(session.get_deposit_records(**old))["rows"][0]["amount"] == "0.1"
    span = {"startTime": T0 + 19 * DAY_MS, "endTime": T0 + 22 * DAY_MS}
    withdrawals = result(session.get_withdrawal_records(**span, withdrawType=2))["rows"]
    assert [(w["withdrawId"], w["withdrawFee"]) for w in withdrawals] == [("w2", "0"), ("w1", "1")]
    log = result(session.get_transaction_log(startTime=T0, endTime=T0 + 7 * DAY_MS, limit=50))
    assert {(r["currency"], r["change"]) for r in log["list"]} == {
        ("BTC", "0.4995"), ("USDT", "-20000"),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ({**BY_READ, "secret": "not-the-secret"}, 10004),
        ({"apiKey": "nobodyKey000000000", "secret": "x"}, 10003),
        (BY_IP, 10010),
    ],
    ids=["wrong-secret", "unknown-key", "ip"],
)
def test_pybit_sees_bybit_codes(url: str, key: dict[str, str], code: int) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        sdk(url, key).get_wallet_balance(accountType="UNIFIED")
    assert raised.value.status_code == code


def ccxt_client(url: str) -> Any:
    exchange = ccxt.bybit({
        "apiKey": BY_READ["apiKey"], "secret": BY_READ["secret"], "enableRateLimit": False,
        "options": {"fetchMarkets": {"types": ["spot"]}, "defaultType": "spot"},
    })  # fmt: skip
    exchange.urls["api"] = dict.fromkeys(exchange.urls["api"], url)
    return exchange


def test_ccxt_loads_markets_and_reads_balances_history_and_tickers(url: str) -> None:
    exchange = ccxt_client(url)
    try:
        exchange.load_markets()  # a signed coin list first, then the spot instruments
        assert "BBSOL/USDT" in exchange.markets and "BTC3L" in exchange.currencies
        unified = exchange.fetch_balance()
        assert unified["info"]["result"]["list"][0]["accountType"] == "UNIFIED"
        assert {"BTC", "USDT", "ABC", "BTC3L"} <= set(unified["total"])
        funding = exchange.fetch_balance({"type": "funding"})
        assert {"BBSOL", "USDT"} <= set(funding["total"])
        trades = exchange.fetch_my_trades("BTC/USDT", since=T0)
        assert [t["info"]["execQty"] for t in trades] == ["0.5"] * 3
        deposits = exchange.fetch_deposits(since=T0 - DAY_MS)
        assert {d["info"]["id"] for d in deposits} >= {"d2", "d4"}
        withdrawals = exchange.fetch_withdrawals(since=T0 + 19 * DAY_MS)
        assert [w["info"]["withdrawId"] for w in withdrawals] == ["w1"]  # ccxt: on-chain only
        ledger = exchange.fetch_ledger(since=T0 + 10 * DAY_MS - 1)
        assert {entry["info"]["currency"] for entry in ledger} == {"ETH", "USDT"}
        tickers = exchange.fetch_tickers()
        assert tickers["BTC/USDT"]["info"]["lastPrice"] == "60000"
        assert abs(exchange.fetch_time() - time.time() * 1000) < 60_000
    finally:
        exchange.close()


async def test_ccxt_pro_watch_balance_gets_the_wallet_push(url: str) -> None:
    import ccxt.pro as ccxtpro

    exchange = ccxtpro.bybit({
        "apiKey": BY_READ["apiKey"], "secret": BY_READ["secret"], "enableRateLimit": False,
        "options": {"fetchMarkets": {"types": ["spot"]}},
    })  # fmt: skip
    ws = url.replace("http://", "ws://") + "/v5/private"
    exchange.urls["api"] = {
        **{name: url for name, value in exchange.urls["api"].items() if isinstance(value, str)},
        "ws": {**exchange.urls["api"]["ws"],
               "private": {**exchange.urls["api"]["ws"]["private"], "contract": ws}},
    }  # fmt: skip
    exchange.set_markets([])
    try:
        watching = asyncio.ensure_future(exchange.watch_balance())  # query-api + account/info
        while not any(
            "wallet" in c["subs"] for c in control(url, "/__sandbox__/ws")["connections"]
        ):
            assert not watching.done(), watching
            await asyncio.sleep(0.01)  # wait for the subscription (a condition, not a time)
        sell = {"account": "alice", "symbol": "BTC-USDT", "side": "sell", "amount": "0.1"}
        await asyncio.to_thread(control, url, "/__sandbox__/trade", sell)
        balance = await asyncio.wait_for(watching, 10)
    finally:
        await exchange.close()
    assert balance["info"][0]["accountType"] == "UNIFIED"
    assert {row["coin"] for row in balance["info"][0]["coin"]} == {"BTC", "USDT"}
