"""The Kraken venue over raw HTTP: API-Sign and nonces, the envelope with HTTP 200, permissions,
sub-balances, pairs, history pages, the call counter, faults and the WebSocket v2 balances."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cli_support import control
from kraken_support import (
    KR_BOB,
    KR_IP,
    KR_READ,
    KR_TRADE,
    SMALL_FILLS,
    T0,
    kraken_state,
    next_nonce,
    private,
    public,
)

from keyfolio.errors import SandboxStateError
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state
from keyfolio.sandbox.venues.kraken import auth


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with SandboxThread(parse_state(kraken_state()), rate_limit=False) as server:
        yield server.url


def result(answer: tuple[int, Any]) -> Any:
    status, body = answer
    assert status == 200 and body["error"] == [], body
    return body["result"]


def error(answer: tuple[int, Any]) -> str:
    status, body = answer
    assert status == 200 and "result" not in body, body  # Kraken's API errors are HTTP 200
    [message] = body["error"]
    return str(message)


def test_the_documented_signature_vector() -> None:
    secret = (
        "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
    )
    body = b"nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    expected = (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
    )
    assert auth.sign(secret, "/0/private/AddOrder", "1616492376594", body) == expected


def test_every_sub_balance_is_its_own_row(url: str) -> None:
    rows = result(private(url, "BalanceEx"))
    assert rows["XXBT"] == {"balance": "0.5000000000", "hold_trade": "0.0000000000"}
    assert rows["SOL"]["balance"] == "0.00000000" and rows["SOL.F"]["balance"] == "10.00000000"
    assert {"XBT.M", "ETH2", "ETH2.S", "ETH.B", "DOT.S", "KFEE"} <= set(rows)
    plain = result(private(url, "Balance", as_json=True))  # a JSON body works too
    assert plain["ZUSD"] == "1000.0000" and plain["ETH2.S"] == "1.50000000"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ({"key": {"apiKey": "nobody", "secret": KR_READ["secret"]}}, "EAPI:Invalid key"),
        ({"secret": KR_BOB["secret"]}, "EAPI:Invalid signature"),
        ({"nonce": 1}, "EAPI:Invalid nonce"),
        ({"key": KR_IP}, "EGeneral:Permission denied"),
    ],
    ids=["unknown-key", "wrong-secret", "old-nonce", "ip-not-allowed"],
)
def test_auth_failures_answer_as_kraken(url: str, call: dict[str, Any], expected: str) -> None:
    result(private(url, "Balance"))  # the key has accepted a nonce, whatever ran before here
    assert error(private(url, "Balance", **call)) == expected


def test_a_nonce_is_used_once_and_only_a_signed_request_consumes_it(url: str) -> None:
    nonce = next_nonce()
    assert error(private(url, "Balance", nonce=nonce, secret=KR_BOB["secret"])).endswith(
        "signature"
    )
    result(private(url, "Balance", nonce=nonce))  # the badly signed request did not use it
    assert error(private(url, "Balance", nonce=nonce)) == "EAPI:Invalid nonce"
    assert error(private(url, "Balance", nonce=nonce - 1)) == "EAPI:Invalid nonce"
    info = result(private(url, "GetApiKeyInfo"))
    assert int(info["nonce"]) > nonce  # GetApiKeyInfo reports the last nonce accepted


def test_permissions_in_kraken_words_and_the_probes_that_change_nothing(url: str) -> None:
    read = result(private(url, "GetApiKeyInfo"))
    assert read["permissions"] == [
        "query-funds",
        "query-open-trades",
        "query-closed-trades",
        "query-ledger",
    ]
    assert read["ipAllowlist"] == [] and read["nonceWindow"] == 0
    order = {"pair": "XBTUSD", "type": "buy", "ordertype": "limit", "price": "1",
             "volume": "0.00005", "validate": "true"}  # fmt: skip
    assert error(private(url, "AddOrder", order)) == "EGeneral:Permission denied"
    assert error(private(url, "WithdrawMethods")) == "EGeneral:Permission denied"
    trade = result(private(url, "GetApiKeyInfo", key=KR_TRADE))
    assert {"modify-trades", "withdraw-funds"} <= set(trade["permissions"])
    validated = result(private(url, "AddOrder", order, key=KR_TRADE))
    assert validated == {"descr": {"order": "buy 0.00005000 XBTUSD @ limit 1.0"}}  # no txid
    assert result(private(url, "WithdrawMethods", {"asset": "XBT"}, key=KR_TRADE)) == [
        {"asset": "XXBT", "method": "XBT", "network": "XBT", "minimum": "0.0004"}
    ]


def test_assets_pairs_and_tickers_use_kraken_names(url: str) -> None:
    assets = result(public(url, "Assets", "asset=XBT,ZUSD"))
    assert assets["XXBT"]["altname"] == "XBT" and assets["ZUSD"]["decimals"] == 4
    pairs = result(public(url, "AssetPairs"))
    assert {"XXBTZUSD", "XETHZUSD", "XETHXXBT", "XBTUSDT", "SOLUSD", "USDTZUSD"} <= set(pairs)
    assert (pairs["XBTUSDT"]["base"], pairs["XBTUSDT"]["quote"]) == ("XXBT", "USDT")
    assert pairs["XXBTZUSD"]["wsname"] == "XBT/USD"
    ticker = result(public(url, "Ticker", "pair=XBTUSD"))
    assert list(ticker) == ["XXBTZUSD"]  # asked by altname, keyed by the pair key
    assert ticker["XXBTZUSD"]["c"][0] == "60000.0" and ticker["XXBTZUSD"]["o"] == "58000.0"
    status, body = public(url, "Ticker", "pair=NOPE")
    assert status == 200 and body["error"] == ["EQuery:Unknown asset pair"]


def test_trades_page_newest_first_by_offset_and_window(url: str) -> None:
    first = result(private(url, "TradesHistory"))
    assert first["count"] == SMALL_FILLS + 3 and len(first["trades"]) == 50
    times = [trade["time"] for trade in first["trades"].values()]
    assert times == sorted(times, reverse=True)
    rest = result(private(url, "TradesHistory", {"ofs": 50}))
    assert len(rest["trades"]) == SMALL_FILLS + 3 - 50
    oldest = list(rest["trades"].values())[-1]
    assert (oldest["pair"], oldest["type"], oldest["vol"], oldest["fee"]) == (
        "XXBTZUSD",
        "buy",
        "0.50000000",
        "20.00000",
    )
    window = result(private(url, "TradesHistory", {"start": T0 // 1000, "end": T0 // 1000 + 86400}))
    assert [t["price"] for t in window["trades"].values()] == ["2000.0"]  # start is exclusive


def test_the_ledger_has_two_legs_per_trade_and_filters(url: str) -> None:
    everything = result(private(url, "Ledgers"))
    assert everything["count"] == 2 * (SMALL_FILLS + 3) + 3
    deposits = result(private(url, "Ledgers", {"type": "deposit"}))
    assert {e["asset"] for e in deposits["ledger"].values()} == {"ZUSD", "XETH"}
    legs = result(private(url, "Ledgers", {"asset": "XBT", "start": T0 // 1000 - 1,
                                           "end": T0 // 1000}))  # fmt: skip
    [leg] = legs["ledger"].values()
    assert (leg["type"], leg["amount"], leg["fee"]) == ("trade", "0.5000000000", "0.0000000000")
    without = result(private(url, "Ledgers", {"without_count": "true"}))
    assert "count" not in without


def test_deposits_and_withdrawals_list_or_page_with_a_cursor(url: str) -> None:
    deposits = result(private(url, "DepositStatus"))
    assert [d["asset"] for d in deposits] == ["XETH", "ZUSD"] and deposits[0]["status"] == "Success"
    paged = result(private(url, "DepositStatus", {"cursor": "true", "limit": "1"}))
    assert len(paged["deposit"]) == 1 and paged["next_cursor"]
    last = result(private(url, "DepositStatus", {"cursor": paged["next_cursor"], "limit": "1"}))
    assert last["deposit"][0]["asset"] == "ZUSD" and "next_cursor" not in last
    [withdrawal] = result(private(url, "WithdrawStatus"))
    assert (withdrawal["amount"], withdrawal["fee"]) == ("100.00000000", "1.00000000")


def test_the_call_counter_limits_a_key_and_bad_signatures_lock_out() -> None:
    with SandboxThread(parse_state(kraken_state())) as server:
        for _ in range(7):  # 7 history calls of 2 points each: 14 of Starter's 15
            result(private(server.url, "TradesHistory"))
        assert error(private(server.url, "TradesHistory")) == "EAPI:Rate limit exceeded"
        result(private(server.url, "Balance", key=KR_BOB))  # another key has its own counter
        for _ in range(10):
            error(private(server.url, "Balance", key=KR_BOB, secret=KR_READ["secret"]))
        assert error(private(server.url, "Balance", key=KR_BOB)) == "EGeneral:Temporary lockout"
        control(server.url, "/__sandbox__/reset-limits", {})
        result(private(server.url, "TradesHistory"))


@pytest.mark.parametrize(
    ("mode", "status", "message"),
    [
        ("http500", 500, "EGeneral:Internal error"),
        ("unavailable", 200, "EService:Unavailable"),
        ("rate_limit", 200, "EAPI:Rate limit exceeded"),
        ("not_found", 404, "EGeneral:Unknown method"),
    ],
)
def test_faults_answer_in_kraken_words(url: str, mode: str, status: int, message: str) -> None:
    path = "/0/private/GetApiKeyInfo"
    control(url, "/__sandbox__/faults", {"path": path, "mode": mode})
    answer = private(url, "GetApiKeyInfo")
    assert answer == (status, {"error": [message]})


def test_the_request_log_carries_each_nonce(url: str) -> None:
    control(url, "/__sandbox__/reset-log", {})
    nonce = next_nonce()
    result(private(url, "Balance", nonce=nonce))
    public(url, "Time")
    log = control(url, "/__sandbox__/requests")
    assert log[0] == {"method": "POST", "path": "/0/private/Balance", "key": KR_READ["apiKey"],
                      "code": "0", "status": 200, "nonce": str(nonce)}  # fmt: skip
    assert "nonce" not in log[1]


def test_state_files_name_the_field_and_the_problem() -> None:
    data = kraken_state()
    data["keys"][0]["secret"] = "not base64!"
    data["accounts"]["alice"]["spot"] = {"XXBT": "1"}
    with pytest.raises(SandboxStateError) as info:
        parse_state(data, origin="state.json")
    message = info.value.message
    assert "state.json: keys[0]: secret: a Kraken private key is base64 text" in message
    assert "state.json: accounts.alice.spot: unknown source; kraken has balances" in message


async def test_the_balances_channel_needs_a_token_and_pushes_a_trade(url: str) -> None:
    import aiohttp

    ws_url = url.replace("http://", "ws://") + "/v2"
    token = result(private(url, "GetWebSocketsToken", key=KR_BOB))["token"]
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        assert (await ws.receive_json())["channel"] == "status"
        subscribe = {"method": "subscribe", "params": {"channel": "balances", "token": "nope"},
                     "req_id": 1}  # fmt: skip
        await ws.send_json(subscribe)
        refused = await ws.receive_json()
        assert refused["success"] is False and refused["error"] == "ESession:Invalid session"
        await ws.send_json({**subscribe, "params": {"channel": "balances", "token": token}})
        ack = await ws.receive_json()
        assert ack["success"] is True and ack["result"] == {"channel": "balances", "snapshot": True}
        snapshot = await ws.receive_json()
        assert snapshot["type"] == "snapshot" and snapshot["data"][0]["asset"] == "BTC"
        reply = control(url, "/__sandbox__/trade", {"account": "bob", "symbol": "BTC-USD",
                                                     "side": "sell", "amount": "0.5"})  # fmt: skip
        assert reply["pushed"] == 1
        update = await ws.receive_json()
        await ws.send_json({"method": "ping", "req_id": 7})
        assert (await ws.receive_json())["method"] == "pong"
    assert update["type"] == "update" and update["sequence"] == 2
    legs = {entry["asset"]: entry for entry in update["data"]}
    assert legs["BTC"]["balance"] == 1.5 and legs["BTC"]["type"] == "trade"
    assert legs["USD"]["amount"] == 30000.0 and legs["USD"]["fee"] == 30.0
    assert json.dumps(update)
