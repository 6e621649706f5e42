"""The Bybit venue over raw HTTP: the signature recipe and its retCodes, the sources and their
traps, history windows and cursors, the per-UID limit, faults and the private WebSocket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from bybit_support import BY_BOB, BY_IP, BY_READ, BY_TRADE, DAY_MS, T0, bybit_state, fetch, signed
from bybit_support import sign as reference_sign
from cli_support import control

from keyfolio.errors import SandboxStateError
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state
from keyfolio.sandbox.venues.bybit import auth

VECTOR_SECRET = "ExampleSecretNotReal0123456789abcdef"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with SandboxThread(parse_state(bybit_state()), rate_limit=False) as server:
        yield server.url


@pytest.mark.parametrize(
    ("prehash", "expected"),
    [
        ("1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C",
         "f5f703ce6bb6871152bb9262f76e88fe94bda78e7f4b5e8880000161af4b3f29"),
        ('1658385579423XXXXXXXXXX5000{"category": "option"}',
         "a469ae31ffa217d380cc6e20df5010ced6f4cc6c0d745668fb68cee133c93302"),
        ("GET/realtime1662350400000",
         "5d995af2e95bc7b680292c8d066aca7b1ac498d5fbb17910d7965828b6361c80"),
    ],
    ids=["get", "post", "ws-auth"],
)  # fmt: skip
def test_the_signature_vectors(prehash: str, expected: str) -> None:
    assert auth.sign(VECTOR_SECRET, prehash) == expected


def result_of(body: Any) -> Any:
    assert body["retCode"] == 0, body
    assert isinstance(body["time"], int)
    return body["result"]


def test_unified_lists_non_zero_coins_unless_asked_with_strings_and_limit_headers(
    url: str,
) -> None:
    status, body, headers = signed(url, "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
    assert status == 200
    [wallet] = result_of(body)["list"]
    coins = {row["coin"]: row["walletBalance"] for row in wallet["coin"]}
    assert coins == {"ABC": "50", "BTC": "0.5", "BTC3L": "10", "USDT": "1000"}
    assert wallet["coin"][0]["availableToWithdraw"] == "" and wallet["totalEquity"] == "31300"
    assert headers["X-Bapi-Limit"] == "50" and int(headers["X-Bapi-Limit-Status"]) <= 49
    assert int(headers["X-Bapi-Limit-Reset-Timestamp"]) > body["time"]
    _, asked, _ = signed(url, "/v5/account/wallet-balance",
                         {"accountType": "UNIFIED", "coin": "ETH,BTC"})  # fmt: skip
    rows = result_of(asked)["list"][0]["coin"]
    assert [(r["coin"], r["walletBalance"]) for r in rows] == [("ETH", "0"), ("BTC", "0.5")]
    _, wrong, _ = signed(url, "/v5/account/wallet-balance", {"accountType": "SPOT"})
    assert wrong["retCode"] == 10001


def test_funding_and_earn_sources_as_bybit_lists_them(url: str) -> None:
    _, fund, _ = signed(url, "/v5/asset/transfer/query-account-coins-balance",
                        {"accountType": "FUND"})  # fmt: skip
    balance = result_of(fund)["balance"]
    assert [(r["coin"], r["walletBalance"]) for r in balance] == [
        ("BBSOL", "9.5"), ("ETH", "0"), ("USDT", "40"),
    ]  # fmt: skip
    _, flexible, _ = signed(url, "/v5/earn/position", {"category": "FlexibleSaving"})
    rows = result_of(flexible)["list"]
    assert {r["coin"]: r["amount"] for r in rows} == {"BTC": "0.25", "ETH": "0", "USDT": "500"}
    _, onchain, _ = signed(url, "/v5/earn/position", {"category": "OnChain"})
    positions = result_of(onchain)["list"]
    assert {r["coin"]: r["status"] for r in positions} == {"ETH": "Active", "SOL": "Active"}
    _, products, _ = fetch(f"{url}/v5/earn/product?category=OnChain")
    swaps = {r["productId"]: r["swapCoin"] for r in result_of(products)["list"]}
    sol = next(r for r in positions if r["coin"] == "SOL")
    assert swaps[sol["productId"]] == "BBSOL"  # the SOL product is in LST mode


def test_query_api_reports_the_key_in_bybit_words(url: str) -> None:
    _, read, _ = signed(url, "/v5/user/query-api")
    info = result_of(read)
    assert (info["readOnly"], info["ips"], info["uta"]) == (1, ["*"], 1)
    assert info["permissions"]["Spot"] == ["SpotTrade"]  # areas are listed on read-only keys too
    _, trade, _ = signed(url, "/v5/user/query-api", key=BY_TRADE)
    assert result_of(trade)["readOnly"] == 0
    assert "Withdraw" in result_of(trade)["permissions"]["Wallet"]


@pytest.mark.parametrize(
    ("change", "offset_ms", "code"),
    [
        ({"key": {"apiKey": "nobody", "secret": "x"}}, 0, 10003),
        ({"secret": "not-the-secret"}, 0, 10004),
        ({}, 5_000, 10002),
        ({}, -600_000, 10002),
        ({"key": BY_IP}, 0, 10010),
    ],
    ids=["unknown-key", "wrong-secret", "ahead", "too-old", "ip-not-allowed"],
)
def test_auth_failures_are_http_200_with_bybit_codes(
    url: str, change: dict[str, Any], offset_ms: int, code: int
) -> None:
    stamp = int(time.time() * 1000) + offset_ms  # taken now: collection may be long before
    status, body, _ = signed(url, "/v5/account/wallet-balance", {"accountType": "UNIFIED"},
                             timestamp=stamp, **change)  # fmt: skip
    assert (status, body["retCode"]) == (200, code)


def test_error_messages_quote_what_bybit_quotes(url: str) -> None:
    _, wrong, _ = signed(url, "/v5/user/query-api", secret="not-the-secret")
    assert wrong["retMsg"].startswith("error sign! origin_string[")
    assert BY_READ["secret"] not in wrong["retMsg"]
    _, late, _ = signed(url, "/v5/user/query-api", timestamp=1)
    assert "req_timestamp[1]" in late["retMsg"] and "recv_window[5000]" in late["retMsg"]
    _, missing, _ = fetch(f"{url}/v5/user/query-api")
    assert missing["retCode"] == 10001 and "openapi sign params error!" in missing["retMsg"]
    status, _, _ = fetch(f"{url}/v5/user/query-api?api_key=x&sign=y&timestamp=1")
    assert status == 401  # v1/v2-style authentication in the query


def test_without_the_recv_window_header_the_prehash_leaves_it_out(url: str) -> None:
    status, body, _ = signed(url, "/v5/user/query-api", recv_window=None)
    assert (status, body["retCode"]) == (200, 0)


def test_executions_come_7_days_at_a_time_newest_first_with_cursors(url: str) -> None:
    _, recent, _ = signed(url, "/v5/execution/list", {"category": "spot"})
    assert result_of(recent)["list"] == []  # the default window is the last 7 days
    window = {"category": "spot", "startTime": T0, "endTime": T0 + 7 * DAY_MS, "limit": 2}
    _, first, _ = signed(url, "/v5/execution/list", window)
    page = result_of(first)
    assert [r["execTime"] for r in page["list"]] == [str(T0 + 2 * DAY_MS), str(T0 + DAY_MS)]
    assert page["list"][0]["feeCurrency"] == "BTC" and page["list"][0]["execQty"] == "0.5"
    assert "%3A" in page["nextPageCursor"]  # URL-encoded, as Bybit sends it
    _, rest, _ = signed(url, "/v5/execution/list", {**window, "cursor": page["nextPageCursor"]})
    assert [r["execTime"] for r in result_of(rest)["list"]] == [str(T0)]
    assert result_of(rest)["nextPageCursor"] == ""
    _, wide, _ = signed(
        url, "/v5/execution/list", {"category": "spot", "startTime": T0, "endTime": T0 + 8 * DAY_MS}
    )
    assert wide["retCode"] == 10001  # fmt: skip


def test_deposits_and_withdrawals_windows_are_under_30_days(url: str) -> None:
    window = {"startTime": T0 - DAY_MS, "endTime": T0 + 28 * DAY_MS}
    _, deposits, _ = signed(url, "/v5/asset/deposit/query-record", window)
    rows = result_of(deposits)["rows"]
    assert [(r["id"], r["status"], r["successAt"]) for r in rows] == [
        ("d4", 2, str(T0 + DAY_MS)), ("d2", 3, str(T0)),
    ]  # fmt: skip
    _, exactly, _ = signed(url, "/v5/asset/deposit/query-record",
                           {"startTime": T0, "endTime": T0 + 30 * DAY_MS})  # fmt: skip
    assert exactly["retCode"] == 10001
    window = {"startTime": T0, "endTime": T0 + 29 * DAY_MS}
    _, onchain, _ = signed(url, "/v5/asset/withdraw/query-record", window)
    assert [r["withdrawId"] for r in result_of(onchain)["rows"]] == ["w1"]
    _, every, _ = signed(url, "/v5/asset/withdraw/query-record", {**window, "withdrawType": 2})
    rows = result_of(every)["rows"]
    assert [(r["withdrawId"], r["withdrawType"], r["status"]) for r in rows] == [
        ("w2", 1, "success"), ("w1", 0, "success"),
    ]  # fmt: skip
    assert rows[1]["withdrawFee"] == "1" and rows[0]["chain"] == "internalAddressChain"


def test_the_transaction_log_has_a_row_per_coin_with_the_balance_after(url: str) -> None:
    _, day, _ = signed(url, "/v5/account/transaction-log", {"startTime": T0 + 10 * DAY_MS})
    rows = result_of(day)["list"]
    assert {(r["currency"], r["change"], r["type"]) for r in rows} == {
        ("ETH", "-1", "TRADE"), ("USDT", "1998", "TRADE"),
    }  # fmt: skip
    assert next(r for r in rows if r["currency"] == "USDT")["cashBalance"] == "1000"
    _, wide, _ = signed(url, "/v5/account/transaction-log",
                        {"startTime": T0, "endTime": T0 + 8 * DAY_MS})  # fmt: skip
    assert wide["retCode"] == 10001


def test_the_uid_limit_answers_10006_with_the_reset_timestamp() -> None:
    with SandboxThread(parse_state(bybit_state())) as server:
        for _ in range(500):  # query-api allows 10 a second: the window may roll over once
            status, body, headers = signed(server.url, "/v5/user/query-api", key=BY_BOB)
            if body["retCode"] != 0:
                break
        assert (status, body["retCode"], body["retMsg"]) == (200, 10006, "Too many visits!")
        assert headers["X-Bapi-Limit-Status"] == "0" and headers["X-Bapi-Limit"] == "10"
        reset = int(headers["X-Bapi-Limit-Reset-Timestamp"])
        assert reset % 1000 == 0 and reset > body["time"] - 1000


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [("http500", 500, 10016), ("rate_limit", 200, 10006), ("timeout", 200, 10000)],
)
def test_faults_answer_in_bybit_words(url: str, mode: str, status: int, code: int) -> None:
    control(url, "/__sandbox__/faults",
            {"path": "/v5/user/query-api", "mode": mode, "seconds": 0})  # fmt: skip
    got, body, headers = signed(url, "/v5/user/query-api")
    assert (got, body["retCode"]) == (status, code)
    if mode == "rate_limit":
        assert headers["X-Bapi-Limit-Status"] == "0"


def test_maintenance_unknown_paths_and_a_malformed_body(url: str) -> None:
    control(url, "/__sandbox__/faults", {"path": "/v5/market/time", "mode": "unavailable"})
    status, body, _ = fetch(f"{url}/v5/market/time")
    assert status == 503 and "503 Service Temporarily Unavailable" in body
    assert fetch(f"{url}/v5/nothing/here")[0] == 404
    control(url, "/__sandbox__/faults", {"path": "*", "mode": "malformed"})
    status, body, _ = signed(url, "/v5/user/query-api")
    assert status == 200 and isinstance(body, str)


def test_state_files_name_the_field_and_the_problem() -> None:
    data = bybit_state()
    data["accounts"]["alice"]["spot"] = {"BTC": "1"}
    data["accounts"]["alice"]["fund"]["USDT"] = 5
    with pytest.raises(SandboxStateError) as info:
        parse_state(data, origin="state.json")
    message = info.value.message
    assert "state.json: accounts.alice.spot: unknown source; bybit has unified, fund, earn" in (
        message
    )
    assert "accounts.alice.fund.USDT: amounts must be JSON strings" in message


async def _auth(ws: aiohttp.ClientWebSocketResponse, key: dict[str, str], expires: int) -> Any:
    signature = reference_sign(key["secret"], f"GET/realtime{expires}")
    await ws.send_json({"op": "auth", "args": [key["apiKey"], expires, signature]})
    return await ws.receive_json()


async def test_the_private_stream_authenticates_subscribes_and_pushes_a_trade(url: str) -> None:
    ws_url = url.replace("http://", "ws://") + "/v5/private"
    later = int(time.time() * 1000) + 600_000
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        await ws.send_json({"op": "subscribe", "req_id": "1", "args": ["wallet"]})
        early = await ws.receive_json()
        assert early["success"] is False and early["req_id"] == "1"
        expired = await _auth(ws, BY_BOB, int(time.time() * 1000) - 1)
        assert (expired["success"], expired["ret_msg"], expired["op"]) == (
            False, "Params Error", "auth",
        )  # fmt: skip
        wrong = await _auth(ws, {**BY_BOB, "secret": "wrong"}, later)
        assert wrong["ret_msg"] == "error:USVC1111" and wrong["request"]["op"] == "auth"
        assert (await _auth(ws, BY_BOB, later))["success"] is True
        await ws.send_json({"op": "subscribe", "req_id": "2", "args": ["wallet"]})
        ack = await ws.receive_json()
        assert (ack["success"], ack["op"], ack["req_id"]) == (True, "subscribe", "2")
        await ws.send_json({"op": "ping", "req_id": "3"})
        assert (await ws.receive_json())["op"] == "pong"
        sell = {"account": "bob", "symbol": "BTC-USDT", "side": "sell", "amount": "0.5"}
        reply = control(url, "/__sandbox__/trade", sell)
        assert reply["pushed"] == 1 and reply["fill"]["symbol"] == "BTCUSDT"
        push = await ws.receive_json()
    assert push["topic"] == "wallet" and isinstance(push["creationTime"], int)
    coins = {row["coin"]: row["walletBalance"] for row in push["data"][0]["coin"]}
    assert coins == {"BTC": "1.5", "USDT": "29970"}  # 0.5 x 60000 less the 0.1 % fee
