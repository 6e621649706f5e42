"""The sandbox's own clock (``/__sandbox__/clock``): every venue checks request timestamps and
answers its server-time endpoint with it, as an exchange whose clock differs from the client's.

Clients here sign with this machine's real clock; the sandbox's clock is moved instead. Server
times are checked against the local clock read just before and just after the request (an
order, never a duration).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from binance_support import binance_state
from binance_support import fetch as bn_fetch
from binance_support import signed as bn_signed
from bybit_support import bybit_state
from bybit_support import fetch as by_fetch
from bybit_support import signed as by_signed
from cli_support import READ_KEY, base_state, control
from coinbase_support import coinbase_state
from coinbase_support import fetch as cb_fetch
from coinbase_support import signed as cb_signed
from kraken_support import kraken_state, private, public

from keyfolio.sandbox.core.server import SandboxThread, run_sandbox
from keyfolio.sandbox.venues import parse_state

OFFSET = 150
"""Seconds: beyond every venue's window (OKX 30 s, Binance and Bybit 5 s, Coinbase's 120 s JWT)."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def send(url: str, path: str, body: Any, method: str = "POST") -> tuple[int, Any]:
    """A control request whose answer may be an error: (HTTP status, decoded JSON)."""
    request = urllib.request.Request(
        url + path, data=json.dumps(body).encode(), method=method,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    status, answer, _ = bn_fetch(request)
    return status, answer


def set_clock(url: str, seconds: float) -> dict[str, Any]:
    answer: dict[str, Any] = control(url, "/__sandbox__/clock", {"offset_seconds": seconds})
    return answer


# -- each venue: a signed request with the real clock, and the server's time ------------------


def okx_sign(prehash: str) -> str:
    digest = hmac.new(READ_KEY["secret"].encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def okx_request(url: str) -> tuple[bool, str]:
    path = "/api/v5/account/balance"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    headers = {
        "OK-ACCESS-KEY": READ_KEY["apiKey"],
        "OK-ACCESS-PASSPHRASE": READ_KEY["passphrase"],
        "OK-ACCESS-TIMESTAMP": stamp,
        "OK-ACCESS-SIGN": okx_sign(stamp + "GET" + path),
    }
    status, body, _ = bn_fetch(urllib.request.Request(url + path, headers=headers))
    return status == 200 and body["code"] == "0", f"{status} {body['code']} {body['msg']}"


def okx_time(url: str) -> int:
    return int(bn_fetch(url + "/api/v5/public/time")[1]["data"][0]["ts"])


def binance_request(url: str) -> tuple[bool, str]:
    status, body, _ = bn_signed(url, "/api/v3/account")
    return status == 200, f"{status} {body.get('code')} {body.get('msg')}"


def binance_time(url: str) -> int:
    return int(bn_fetch(url + "/api/v3/time")[1]["serverTime"])


def bybit_request(url: str) -> tuple[bool, str]:
    _, body, _ = by_signed(url, "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
    return body["retCode"] == 0, f"{body['retCode']} {body['retMsg']}"


def bybit_time(url: str) -> int:
    return int(by_fetch(url + "/v5/market/time")[1]["result"]["timeNano"]) // 1_000_000


def coinbase_request(url: str) -> tuple[bool, str]:
    status, _, _ = cb_signed(url, "/api/v3/brokerage/accounts")
    code = control(url, "/__sandbox__/requests")[-1]["code"]  # 401's reason: the log has it
    return status == 200, f"{status} {code}"


def coinbase_time(url: str) -> int:
    return int(cb_fetch(url + "/api/v3/brokerage/time")[1]["epochMillis"])


def kraken_request(url: str) -> tuple[bool, str]:
    _, body = private(url, "Balance")
    return body["error"] == [], str(body["error"])


def kraken_time(url: str) -> int:
    return int(public(url, "Time")[1]["result"]["unixtime"]) * 1000


@dataclass(frozen=True)
class Venue:
    state: Callable[[], dict[str, Any]]
    request: Callable[[str], tuple[bool, str]]
    server_ms: Callable[[str], int]
    ahead: str | None  # the refusal when the server's clock is ahead (None: accepted)
    behind: str | None  # ... and when it is behind
    resolution_ms: int = 1


VENUES = {
    "okx": Venue(
        base_state, okx_request, okx_time,
        ahead="401 50102 Timestamp request expired.",
        behind="401 50102 Timestamp request expired.",
    ),
    "binance": Venue(
        binance_state, binance_request, binance_time,
        ahead="400 -1021 Timestamp for this request is outside of the recvWindow.",
        behind="400 -1021 Timestamp for this request was 1000ms ahead of the server's time.",
    ),
    "bybit": Venue(
        bybit_state, bybit_request, bybit_time,
        ahead="10002 invalid request, please check your server timestamp or recv_window param.",
        behind="10002 invalid request, please check your server timestamp or recv_window param.",
    ),
    "coinbase": Venue(
        coinbase_state, coinbase_request, coinbase_time,
        ahead="401 401 expired", behind="401 401 not_yet_valid",
    ),
    "kraken": Venue(  # a nonce, no timestamp: Kraken accepts a client whatever its clock
        kraken_state, kraken_request, kraken_time, ahead=None, behind=None, resolution_ms=1000
    ),
}  # fmt: skip


@pytest.fixture(params=list(VENUES), scope="module")
def venue(request: pytest.FixtureRequest) -> Iterator[tuple[Venue, str]]:
    spec = VENUES[request.param]
    with SandboxThread(parse_state(spec.state()), rate_limit=False) as server:
        yield spec, server.url


@pytest.mark.parametrize("direction", [1, -1], ids=["server_ahead", "server_behind"])
def test_each_venue_checks_timestamps_and_tells_the_time_with_its_own_clock(
    venue: tuple[Venue, str], direction: int
) -> None:
    spec, url = venue
    assert spec.request(url)[0], spec.request(url)  # in step: accepted
    offset_ms = direction * OFFSET * 1000
    res = spec.resolution_ms
    try:
        set_clock(url, direction * OFFSET)
        before = now_ms()
        server = spec.server_ms(url)
        after = now_ms()
        assert (before + offset_ms) // res * res <= server <= after + offset_ms
        accepted, answer = spec.request(url)
        expected = spec.ahead if direction > 0 else spec.behind
        if expected is None:
            assert accepted, answer
        else:
            assert not accepted and answer.startswith(expected), answer
    finally:
        set_clock(url, 0)
    assert spec.request(url)[0]  # back in step: accepted again
    before = now_ms()
    server = spec.server_ms(url)
    assert before // res * res <= server <= now_ms()


def test_bybit_s_refusal_quotes_the_skewed_server_time() -> None:
    with SandboxThread(parse_state(bybit_state()), rate_limit=False) as server:
        set_clock(server.url, -OFFSET)
        before = now_ms()
        _, body, _ = by_signed(server.url, "/v5/account/wallet-balance", {"accountType": "UNIFIED"})
        after = now_ms()
    quoted = int(body["retMsg"].split("server_timestamp[")[1].split("]")[0])
    assert before - OFFSET * 1000 <= quoted <= after - OFFSET * 1000


async def test_okx_s_websocket_login_is_refused_by_a_skewed_clock() -> None:
    def login() -> dict[str, Any]:
        ts = str(int(time.time()))
        arg = {"apiKey": READ_KEY["apiKey"], "passphrase": READ_KEY["passphrase"],
               "timestamp": ts, "sign": okx_sign(ts + "GET/users/self/verify")}  # fmt: skip
        return {"op": "login", "args": [arg]}

    async with run_sandbox(parse_state(base_state())) as url, aiohttp.ClientSession() as http:
        async with http.post(url + "/__sandbox__/clock", json={"offset_seconds": OFFSET}) as r:
            assert r.status == 200
        async with http.ws_connect(url.replace("http", "ws", 1) + "/ws/v5/private") as ws:
            await ws.send_json(login())
            refused = await ws.receive_json(timeout=30)
        async with http.post(url + "/__sandbox__/clock", json={"offset_seconds": 0}) as r:
            assert r.status == 200
        async with http.ws_connect(url.replace("http", "ws", 1) + "/ws/v5/private") as ws:
            await ws.send_json(login())
            accepted = await ws.receive_json(timeout=30)
    assert (refused["event"], refused["code"]) == ("error", "60006"), refused
    assert (accepted["event"], accepted["code"]) == ("login", "0"), accepted


# -- the control ----------------------------------------------------------------------------


def test_the_clock_control_reports_validates_and_a_new_state_resets_it() -> None:
    with SandboxThread(parse_state(base_state())) as server:
        url = server.url
        assert control(url, "/__sandbox__/clock")["offset_seconds"] == 0
        before = now_ms()
        answer = set_clock(url, 120.5)
        after = now_ms()
        assert answer["ok"] is True and answer["offset_seconds"] == 120.5
        assert before + 120_500 <= answer["server_time_ms"] <= after + 120_500
        assert control(url, "/__sandbox__/clock")["offset_seconds"] == 120.5
        for body, word in (
            ({"offset_seconds": "120"}, "number"),
            ({"offset_seconds": True}, "number"),
            ({}, "number"),
            ({"offset_seconds": 1e12}, "a year"),
            ({"offset_seconds": float("nan")}, "a year"),
            ({"offset_seconds": 1, "skew": 2}, "unknown fields"),
        ):
            status, refused = send(url, "/__sandbox__/clock", body)
            assert status == 400 and word in refused["error"], (body, refused)
        assert control(url, "/__sandbox__/clock")["offset_seconds"] == 120.5  # unchanged
        status, _ = send(url, "/__sandbox__/state", base_state(), method="PUT")
        assert status == 200
        assert control(url, "/__sandbox__/clock")["offset_seconds"] == 0
