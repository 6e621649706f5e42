"""WebSocket: login and its errors, the account and tickers channels, ping, idle close."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import ccxt.pro as ccxtpro
import pytest

from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues.okx.state import SandboxState


def _login(okx: Any, who: str = "alice", **override: Any) -> dict[str, Any]:
    key = okx.keys[who]
    ts = str(int(time.time()))
    arg = {
        "apiKey": key["apiKey"],
        "passphrase": key["passphrase"],
        "timestamp": ts,
        "sign": okx.sign(key["secret"], ts + "GET/users/self/verify"),
    }
    return {"op": "login", "args": [{**arg, **override}]}


async def _recv(ws: aiohttp.ClientWebSocketResponse) -> Any:
    message = await asyncio.wait_for(ws.receive(), 30)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return message.data if message.data == "pong" else json.loads(message.data)


async def _ws(http: aiohttp.ClientSession, url: str, kind: str) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(url.replace("http", "ws", 1) + f"/ws/v5/{kind}")


async def _logged_in(
    http: aiohttp.ClientSession, url: str, okx: Any, who: str = "alice"
) -> aiohttp.ClientWebSocketResponse:
    ws = await _ws(http, url, "private")
    await ws.send_json(_login(okx, who))
    reply = await _recv(ws)
    assert reply["event"] == "login" and reply["code"] == "0", reply
    return ws


async def test_ping_pong(sandbox: str, http: aiohttp.ClientSession) -> None:
    async with await _ws(http, sandbox, "public") as ws:
        await ws.send_str("ping")
        assert await _recv(ws) == "pong"


async def test_login_success(sandbox: str, http: aiohttp.ClientSession, okx: Any) -> None:
    async with await _ws(http, sandbox, "private") as ws:
        await ws.send_json(_login(okx))
        reply = await _recv(ws)
    assert (reply["event"], reply["code"], reply["msg"]) == ("login", "0", "")
    assert isinstance(reply["connId"], str) and reply["connId"]


async def test_login_with_integer_timestamp(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    message = _login(okx)  # python-okx sends the timestamp as a JSON number
    message["args"][0]["timestamp"] = int(message["args"][0]["timestamp"])
    async with await _ws(http, sandbox, "private") as ws:
        await ws.send_json(message)
        assert (await _recv(ws))["code"] == "0"


@pytest.mark.parametrize(
    ("who", "override", "code", "msg"),
    [
        ("alice", {"sign": "bad"}, "60009", "Login failed."),
        ("alice", {"passphrase": "wrong"}, "60024", "Wrong passphrase"),
        ("alice", {"apiKey": "nobody"}, "60032", "API key doesn't exist."),
        ("eea", {}, "60032", "API key doesn't exist."),
        (
            "alice",
            {"timestamp": str(int(time.time()) - 3600)},
            "60006",
            "Timestamp request expired",
        ),
        ("alice", {"timestamp": "yesterday"}, "60004", "Invalid timestamp"),
    ],
)
async def test_login_errors(
    sandbox: str, http: aiohttp.ClientSession, okx: Any, who: str, override: dict[str, Any],
    code: str, msg: str,
) -> None:  # fmt: skip
    async with await _ws(http, sandbox, "private") as ws:
        await ws.send_json({**_login(okx, who, **override), "id": "7"})
        reply = await _recv(ws)
    assert (reply["event"], reply["code"], reply["msg"], reply["id"]) == ("error", code, msg, "7")


async def test_ccxt_pro_login_failure_is_authentication_error(sandbox: str, okx: Any) -> None:
    exchange = ccxtpro.okx(okx.ccxt_config(sandbox))
    try:
        await exchange.load_markets()  # over REST, with the right secret
        exchange.secret = "wrong"
        with pytest.raises(ccxtpro.AuthenticationError, match="60009"):
            await asyncio.wait_for(exchange.watch_balance(), 30)
    finally:
        await exchange.close()


async def test_invalid_request_60012(sandbox: str, http: aiohttp.ClientSession) -> None:
    async with await _ws(http, sandbox, "private") as ws:
        await ws.send_str("{not json")
        reply = await _recv(ws)
        assert (reply["event"], reply["code"]) == ("error", "60012")
        await ws.send_json({"op": "dance", "args": []})
        assert (await _recv(ws))["code"] == "60012"


async def test_account_needs_login_60011(sandbox: str, http: aiohttp.ClientSession) -> None:
    async with await _ws(http, sandbox, "private") as ws:
        await ws.send_json({"op": "subscribe", "args": [{"channel": "account"}]})
        reply = await _recv(ws)
    assert (reply["event"], reply["code"], reply["msg"]) == ("error", "60011", "Please log in")


@pytest.mark.parametrize(
    ("kind", "arg"),
    [
        ("private", {"channel": "orders", "instType": "ANY"}),
        ("private", {"channel": "tickers", "instId": "BTC-USDT"}),
        ("public", {"channel": "account"}),
        ("public", {"channel": "tickers", "instId": "NOPE-USDT"}),
    ],
)
async def test_unknown_channel_60018(
    sandbox: str, http: aiohttp.ClientSession, okx: Any, kind: str, arg: dict[str, str]
) -> None:
    ws = await (_logged_in(http, sandbox, okx) if kind == "private" else _ws(http, sandbox, kind))
    async with ws:
        await ws.send_json({"op": "subscribe", "args": [arg]})
        reply = await _recv(ws)
    assert (reply["event"], reply["code"]) == ("error", "60018")
    assert arg["channel"] in reply["msg"]


async def test_account_snapshot_then_trade_push(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    async with await _logged_in(http, sandbox, okx) as ws:
        await ws.send_json({"id": "s1", "op": "subscribe", "args": [{"channel": "account"}]})
        ack = await _recv(ws)
        assert (ack["id"], ack["event"], ack["arg"]) == ("s1", "subscribe", {"channel": "account"})
        snapshot = await _recv(ws)
        assert snapshot["eventType"] == "snapshot" and snapshot["arg"]["channel"] == "account"
        assert snapshot["arg"]["uid"].isdigit()
        [data] = snapshot["data"]
        details = {d["ccy"]: d for d in data["details"]}
        assert set(details) == {"BTC", "USDT", "ZZZ"} and data["totalEq"] == "31000"
        assert details["BTC"]["coinUsdPrice"] == "60000" and details["ZZZ"]["coinUsdPrice"] == ""
        _, answer = await okx.control(
            http, sandbox + "/__sandbox__/trade", "POST",
            {"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": "0.01"},
        )  # fmt: skip
        assert answer["pushed"] == 1
        update = await _recv(ws)
    assert update["eventType"] == "event_update"
    changed = {d["ccy"]: d["cashBal"] for d in update["data"][0]["details"]}
    assert changed == {"BTC": "0.50999", "USDT": "400"}


async def test_balance_change_pushes_zero_too(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    async with await _logged_in(http, sandbox, okx) as ws:
        await ws.send_json({"op": "subscribe", "args": [{"channel": "account"}]})
        await _recv(ws), await _recv(ws)
        _, answer = await okx.control(
            http, sandbox + "/__sandbox__/balances", "POST",
            {"account": "alice", "source": "trading", "ccy": "ZZZ", "amount": "0"},
        )  # fmt: skip
        assert answer["pushed"] == 1
        update = await _recv(ws)
    [detail] = update["data"][0]["details"]
    assert (detail["ccy"], detail["eq"]) == ("ZZZ", "0")


async def test_pushes_go_to_the_right_account_and_channel(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    async with await _logged_in(http, sandbox, okx, "bob") as bob:
        await bob.send_json({"op": "subscribe", "args": [{"channel": "account"}]})
        await _recv(bob), await _recv(bob)
        _, answer = await okx.control(
            http, sandbox + "/__sandbox__/trade", "POST",
            {"account": "alice", "instId": "BTC-USDT", "side": "sell", "sz": "0.1"},
        )  # fmt: skip
        assert answer["pushed"] == 0
        _, answer = await okx.control(
            http, sandbox + "/__sandbox__/balances", "POST",
            {"account": "bob", "source": "funding", "ccy": "ETH", "amount": "5"},
        )  # fmt: skip
        assert answer["pushed"] == 0  # funding is not the trading account


async def test_account_ccy_filter(sandbox: str, http: aiohttp.ClientSession, okx: Any) -> None:
    async with await _logged_in(http, sandbox, okx) as ws:
        await ws.send_json({"op": "subscribe", "args": [{"channel": "account", "ccy": "BTC"}]})
        await _recv(ws)
        snapshot = await _recv(ws)
        assert [d["ccy"] for d in snapshot["data"][0]["details"]] == ["BTC"]
        _, answer = await okx.control(
            http, sandbox + "/__sandbox__/balances", "POST",
            {"account": "alice", "source": "trading", "ccy": "USDT", "amount": "1"},
        )  # fmt: skip
        assert answer["pushed"] == 0


async def test_tickers_channel(sandbox: str, http: aiohttp.ClientSession, okx: Any) -> None:
    arg = {"channel": "tickers", "instId": "BTC-USDT"}
    async with await _ws(http, sandbox, "public") as ws:
        await ws.send_json({"op": "subscribe", "args": [arg]})
        assert (await _recv(ws))["event"] == "subscribe"
        first = await _recv(ws)
        assert first["arg"] == arg and first["data"][0]["last"] == "60000"
        _, answer = await okx.control(
            http, sandbox + "/__sandbox__/tickers", "POST",
            {"BTC-USDT": {"last": "61000"}, "ETH-USDT": {"last": "3100"}},
        )  # fmt: skip
        assert answer["pushed"] == 1
        push = await _recv(ws)
        assert push["data"][0]["instId"] == "BTC-USDT" and push["data"][0]["last"] == "61000"
        await ws.send_json({"op": "unsubscribe", "args": [arg]})
        assert (await _recv(ws))["event"] == "unsubscribe"
        _, answer = await okx.control(
            http, sandbox + "/__sandbox__/tickers", "POST", {"BTC-USDT": {"last": "62000"}}
        )
        assert answer["pushed"] == 0


async def test_ccxt_pro_watch_ticker(sandbox: str, okx: Any, http: aiohttp.ClientSession) -> None:
    exchange = ccxtpro.okx(okx.ccxt_config(sandbox))
    try:
        ticker = await asyncio.wait_for(exchange.watch_ticker("ETH/USDT"), 30)
    finally:
        await exchange.close()
    assert ticker["symbol"] == "ETH/USDT" and ticker["info"]["last"] == "3000"


async def test_idle_connection_without_subscription_is_closed(
    state: SandboxState, http: aiohttp.ClientSession
) -> None:
    async with run_sandbox(state, ws_idle_timeout=0.1) as url:
        async with await _ws(http, url, "public") as ws:
            message = await asyncio.wait_for(ws.receive(), 30)
            assert message.type == aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 4004


async def test_subscribed_connection_stays_open(
    state: SandboxState, http: aiohttp.ClientSession
) -> None:
    async with run_sandbox(state, ws_idle_timeout=0.1) as url:
        async with await _ws(http, url, "public") as ws:
            await ws.send_json(
                {"op": "subscribe", "args": [{"channel": "tickers", "instId": "BTC-USDT"}]}
            )
            await _recv(ws), await _recv(ws)
            # a silent connection opened after the subscription is closed for idling: a
            # full idle period has passed for the subscribed one too, which stays open
            async with await _ws(http, url, "public") as silent:
                message = await asyncio.wait_for(silent.receive(), 30)
                assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 4004)
            await ws.send_str("ping")
            assert await _recv(ws) == "pong"


async def test_server_shutdown_closes_sockets(
    state: SandboxState, http: aiohttp.ClientSession
) -> None:
    async with run_sandbox(state) as url:
        ws = await _ws(http, url, "public")
    message = await asyncio.wait_for(ws.receive(), 30)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await ws.close()
