"""The Binance venue over raw HTTP: signatures and their error codes, the sources and the LD
mirror, history windows, the IP weight limit, faults and the WebSocket API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from binance_support import BN_BOB, BN_IP, BN_READ, DAY_MS, T0, binance_state, fetch, sign, signed
from cli_support import control

from keyfolio.errors import SandboxStateError
from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state
from keyfolio.sandbox.venues.binance import auth


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with SandboxThread(parse_state(binance_state()), rate_limit=False) as server:
        yield server.url


def test_the_documented_signature_vector() -> None:
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    expected = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    assert auth.sign(secret, payload) == expected
    assert auth.strip_signature(payload + "&signature=" + expected) == (payload, expected)


def test_spot_lists_every_asset_and_mirrors_flexible_earn_as_ld(url: str) -> None:
    status, body, headers = signed(url, "/api/v3/account", {"omitZeroBalances": "true"})
    assert status == 200
    rows = {row["asset"]: row["free"] for row in body["balances"]}
    assert rows == {
        "ABC": "50.00000000",
        "BTC": "0.50000000",
        "LDBTC": "0.25000000",
        "LDO": "300.00000000",
        "LDUSDT": "500.00000000",
        "USDT": "1000.00000000",
    }
    assert int(headers["X-MBX-USED-WEIGHT-1M"]) >= 20
    _, everything, _ = signed(url, "/api/v3/account")
    zeros = [row for row in everything["balances"] if row["free"] == "0.00000000"]
    assert {row["asset"] for row in zeros} >= {"ETH", "SOL"}  # every asset, unless omitted


def test_funding_and_earn_sources(url: str) -> None:
    _, funding, _ = signed(url, "/sapi/v1/asset/get-funding-asset", method="POST")
    assert [(r["asset"], r["free"]) for r in funding] == [("BNB", "2"), ("USDT", "40")]
    _, flexible, _ = signed(url, "/sapi/v1/simple-earn/flexible/position", {"size": 1})
    assert flexible["total"] == 2 and len(flexible["rows"]) == 1
    _, page2, _ = signed(url, "/sapi/v1/simple-earn/flexible/position", {"size": 1, "current": 2})
    assert [r["asset"] for r in flexible["rows"] + page2["rows"]] == ["BTC", "USDT"]
    _, locked, _ = signed(url, "/sapi/v1/simple-earn/locked/position")
    assert [(r["asset"], r["amount"], r["status"]) for r in locked["rows"]] == [
        ("SOL", "10", "HOLDING")
    ]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"key": {"apiKey": "nobody", "secret": "x"}}, 401, -2015),
        ({"secret": "not-the-secret"}, 400, -1022),
        ({"timestamp_offset_ms": 60_000}, 400, -1021),
        ({"timestamp_offset_ms": -600_000}, 400, -1021),
        ({"key": BN_IP}, 401, -2015),
    ],
    ids=["unknown-key", "wrong-secret", "ahead", "too-old", "ip-not-allowed"],
)
def test_auth_failures_answer_as_binance(
    url: str, change: dict[str, Any], status: int, code: int
) -> None:
    change = dict(change)
    if "timestamp_offset_ms" in change:  # taken now: collection may be long before the run
        change["timestamp"] = int(time.time() * 1000) + change.pop("timestamp_offset_ms")
    got, body, _ = signed(url, "/api/v3/account", **change)
    assert (got, body["code"]) == (status, code)


def test_ahead_and_late_timestamps_have_their_own_messages(url: str) -> None:
    now = int(time.time() * 1000)
    _, ahead, _ = signed(url, "/api/v3/account", timestamp=now + 60_000)
    _, late, _ = signed(url, "/api/v3/account", timestamp=now - 600_000)
    assert "1000ms ahead" in ahead["msg"] and "recvWindow" in late["msg"]


def test_an_unknown_key_on_sapi_is_2008_and_a_missing_header_2014(url: str) -> None:
    status, body, _ = signed(
        url, "/sapi/v1/account/apiRestrictions", key={"apiKey": "nobody", "secret": "x"}
    )
    assert (status, body["code"]) == (400, -2008)
    status, body, _ = fetch(f"{url}/api/v3/account?timestamp=1&signature=00")
    assert (status, body["code"]) == (401, -2014)


def test_missing_parameters_and_a_too_long_recv_window(url: str) -> None:
    status, body, _ = fetch(_unsigned(url, "/api/v3/account?signature=00", BN_READ["apiKey"]))
    assert (status, body["code"]) == (400, -1102) and "timestamp" in body["msg"]
    status, body, _ = signed(url, "/api/v3/account", {"recvWindow": 70_000})
    assert (status, body["code"]) == (400, -1102) and "60000" in body["msg"]


def _unsigned(url: str, path: str, api_key: str) -> Any:
    import urllib.request

    return urllib.request.Request(url + path, headers={"X-MBX-APIKEY": api_key})


def test_api_restrictions_report_the_key_in_binance_words(url: str) -> None:
    _, read, _ = signed(url, "/sapi/v1/account/apiRestrictions")
    assert read["enableReading"] is True and read["enableWithdrawals"] is False
    assert read["enableSpotAndMarginTrading"] is False and read["ipRestrict"] is False
    from binance_support import BN_TRADE

    _, trade, _ = signed(url, "/sapi/v1/account/apiRestrictions", key=BN_TRADE)
    assert trade["enableWithdrawals"] is True and trade["enableSpotAndMarginTrading"] is True


def test_my_trades_needs_a_symbol_pages_by_from_id_and_windows_24h(url: str) -> None:
    status, body, _ = signed(url, "/api/v3/myTrades")
    assert (status, body["code"]) == (400, -1102)
    _, first, _ = signed(url, "/api/v3/myTrades", {"symbol": "BTCUSDT", "fromId": 0, "limit": 2})
    assert [t["id"] for t in first] == [1, 2]
    _, rest, _ = signed(url, "/api/v3/myTrades", {"symbol": "BTCUSDT", "fromId": 3})
    assert [t["id"] for t in rest] == [3]
    assert first[0]["isBuyer"] is True and first[0]["commissionAsset"] == "BTC"
    status, body, _ = signed(
        url, "/api/v3/myTrades", {"symbol": "BTCUSDT", "startTime": T0, "endTime": T0 + 2 * DAY_MS}
    )
    assert (status, body["code"]) == (400, -1127)


def test_deposits_and_withdrawals_come_90_days_at_a_time(url: str) -> None:
    _, recent, _ = signed(url, "/sapi/v1/capital/deposit/hisrec")
    assert recent == []  # the default window is the last 90 days
    _, window, _ = signed(
        url, "/sapi/v1/capital/deposit/hisrec", {"startTime": T0 - DAY_MS, "endTime": T0 + DAY_MS}
    )
    assert [(d["id"], d["status"], d["insertTime"]) for d in window] == [("d2", 1, T0)]
    status, body, _ = signed(
        url, "/sapi/v1/capital/deposit/hisrec", {"startTime": T0 - 400 * DAY_MS, "endTime": T0}
    )
    assert status == 400 and body["code"] == -1127
    _, withdrawals, _ = signed(
        url, "/sapi/v1/capital/withdraw/history", {"startTime": T0, "endTime": T0 + 30 * DAY_MS}
    )
    assert withdrawals[0]["transactionFee"] == "1"
    assert withdrawals[0]["applyTime"] == "2023-12-04 22:13:20"


def test_the_ip_weight_limit_answers_429_then_bans_with_418() -> None:
    with SandboxThread(parse_state(binance_state())) as server:
        statuses = [fetch(f"{server.url}/api/v3/ticker/24hr")[0] for _ in range(75)]
        assert statuses[:75].count(200) == 75  # 75 x 80 = 6000: the whole minute's weight
        status, body, headers = fetch(f"{server.url}/api/v3/ticker/24hr")
        assert (status, body["code"]) == (429, -1003) and int(headers["Retry-After"]) >= 1
        status, body, headers = fetch(f"{server.url}/api/v3/time")
        assert status == 418 and "banned until" in body["msg"]
        assert int(headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [("http500", 500, -1001), ("unavailable", 503, -1008), ("rate_limit", 429, -1003)],
)
def test_faults_answer_in_binance_words(url: str, mode: str, status: int, code: int) -> None:
    control(url, "/__sandbox__/faults", {"path": "/api/v3/account", "mode": mode})
    got, body, headers = signed(url, "/api/v3/account")
    assert (got, body["code"]) == (status, code)
    if mode == "rate_limit":
        assert headers["Retry-After"] == "1"


def test_a_malformed_fault_cuts_the_body(url: str) -> None:
    control(url, "/__sandbox__/faults", {"path": "*", "mode": "malformed"})
    status, body, _ = signed(url, "/api/v3/account")
    assert status == 200 and isinstance(body, str)


def test_state_files_name_the_field_and_the_problem() -> None:
    data = binance_state()
    data["accounts"]["alice"]["spotz"] = {"BTC": "1"}
    data["accounts"]["alice"]["funding"]["USDT"] = 5
    with pytest.raises(SandboxStateError) as info:
        parse_state(data, origin="state.json")
    message = info.value.message
    assert "state.json: accounts.alice.spotz: unknown source; binance has spot" in message
    assert "accounts.alice.funding.USDT: amounts must be JSON strings" in message


async def test_the_user_data_stream_pushes_a_trade(url: str) -> None:
    import aiohttp

    now = int(time.time() * 1000)
    params = {"apiKey": BN_BOB["apiKey"], "timestamp": now}
    payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
    ws_url = url.replace("http://", "ws://") + "/ws-api/v3"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        bad = {**params, "signature": "00"}
        await ws.send_json({"id": "1", "method": "userDataStream.subscribe.signature",
                            "params": bad})  # fmt: skip
        refused = await ws.receive_json()
        assert refused["status"] == 400 and refused["error"]["code"] == -1022
        good = {**params, "signature": sign(BN_BOB["secret"], payload)}
        await ws.send_json({"id": "2", "method": "userDataStream.subscribe.signature",
                            "params": good})  # fmt: skip
        assert (await ws.receive_json())["result"] == {"subscriptionId": 0}
        reply = control(url, "/__sandbox__/trade", {"account": "bob", "symbol": "BTC-USDT",
                                                     "side": "sell", "amount": "0.5"})  # fmt: skip
        assert reply["pushed"] == 1 and reply["fill"]["symbol"] == "BTCUSDT"
        event = (await ws.receive_json())["event"]
        assert event["e"] == "outboundAccountPosition"
        assert {b["a"]: b["f"] for b in event["B"]}["BTC"] == "1.50000000"
    assert json.dumps(event)  # a plain JSON object
