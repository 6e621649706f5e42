"""Faults that stop at a known point: ``after`` (skip the first N matches), ``hold`` (block a
request until the control API releases it), and ``PUT /__sandbox__/state`` (start over)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues.okx.state import SandboxState

FUNDING = "/api/v5/asset/balances"
TIME = "/api/v5/public/time"


async def _control(
    http: aiohttp.ClientSession, url: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, url + "/__sandbox__/" + path, json=body) as response:
        return response.status, await response.json()


async def _funding_status(http: aiohttp.ClientSession, url: str, okx: Any) -> int:
    async with http.get(url + FUNDING, headers=okx.headers("alice", FUNDING)) as response:
        await response.read()
        return response.status


async def test_after_lets_the_first_matches_through(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    fault = {"path": FUNDING, "mode": "http500", "count": 2, "after": 3}
    assert (await _control(http, sandbox, "POST", "faults", fault))[0] == 200
    statuses = [await _funding_status(http, sandbox, okx) for _ in range(7)]
    assert statuses == [200, 200, 200, 500, 500, 200, 200]
    _, log = await _control(http, sandbox, "GET", "requests")
    assert [entry["code"] for entry in log] == ["0", "0", "0", "50026", "50026", "0", "0"]


async def test_a_skipping_fault_passes_requests_on_to_the_next_fault(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    await _control(http, sandbox, "POST", "faults", {"path": "*", "mode": "hold", "after": 5})
    await _control(http, sandbox, "POST", "faults", {"path": FUNDING, "mode": "code50001"})
    assert await _funding_status(http, sandbox, okx) == 503  # passed the first, hit the second
    assert await _funding_status(http, sandbox, okx) == 200
    _, listed = await _control(http, sandbox, "GET", "faults")
    assert listed["faults"] == [
        {"path": "*", "mode": "hold", "count": 1, "seconds": 30.0, "after": 3}
    ]


async def test_hold_blocks_the_nth_request_until_released(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    await _control(http, sandbox, "POST", "faults", {"path": FUNDING, "mode": "hold", "after": 1})
    assert await _funding_status(http, sandbox, okx) == 200  # the first one passes
    second = asyncio.create_task(_funding_status(http, sandbox, okx))
    _, held = await _control(http, sandbox, "GET", "faults/held?wait=10")
    assert [(h["method"], h["path"]) for h in held["held"]] == [("GET", FUNDING)]
    assert not second.done()
    _, log = await _control(http, sandbox, "GET", "requests")
    assert len(log) == 1  # the held request is logged when it is answered
    status, answer = await _control(
        http, sandbox, "POST", "faults/release", {"id": held["held"][0]["id"]}
    )
    assert (status, answer) == (200, {"ok": True, "released": 1})
    assert await asyncio.wait_for(second, 10) == 200  # answered normally once released
    assert (await _control(http, sandbox, "GET", "faults/held"))[1] == {"held": []}
    assert await _funding_status(http, sandbox, okx) == 200  # count 1: used up


async def test_release_all_and_bad_release_bodies(
    sandbox: str, http: aiohttp.ClientSession, okx: Any
) -> None:
    await _control(http, sandbox, "POST", "faults", {"path": TIME, "mode": "hold", "count": 2})
    first = asyncio.create_task(http.get(sandbox + TIME))
    await _control(http, sandbox, "GET", "faults/held?wait=10")
    second = asyncio.create_task(http.get(sandbox + TIME))
    while len((await _control(http, sandbox, "GET", "faults/held?wait=10"))[1]["held"]) < 2:
        await asyncio.wait({second}, timeout=0.01)  # the second request is on its way
    for body, error in (({"id": "1"}, "integer"), ({"id": 99}, "no held request"),
                        ({"who": 1}, "unknown")):  # fmt: skip
        status, answer = await _control(http, sandbox, "POST", "faults/release", body)
        assert status == 400 and error in answer["error"]
    status, answer = await _control(http, sandbox, "POST", "faults/release")
    assert (status, answer) == (200, {"ok": True, "released": 2})
    for task in (first, second):
        async with await asyncio.wait_for(task, 10) as response:
            assert response.status == 200
    status, answer = await _control(http, sandbox, "GET", "faults/held?wait=soon")
    assert status == 400 and "seconds" in answer["error"]


async def test_wait_for_a_held_request_gives_up_after_its_seconds(
    sandbox: str, http: aiohttp.ClientSession
) -> None:
    assert await _control(http, sandbox, "GET", "faults/held?wait=0.01") == (200, {"held": []})


async def test_shutdown_releases_held_requests(
    state: SandboxState, http: aiohttp.ClientSession
) -> None:
    async with run_sandbox(state) as url:
        await _control(http, url, "POST", "faults", {"path": TIME, "mode": "hold"})
        held = asyncio.create_task(http.get(url + TIME))
        await _control(http, url, "GET", "faults/held?wait=10")
    async with await asyncio.wait_for(held, 10) as response:
        assert response.status == 200


async def test_put_state_starts_over(
    sandbox: str, http: aiohttp.ClientSession, okx: Any, state_document: dict[str, Any]
) -> None:
    trade = {"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": "0.01"}
    assert (await _control(http, sandbox, "POST", "trade", trade))[0] == 200
    await _control(http, sandbox, "POST", "faults", {"path": FUNDING, "mode": "http500"})
    await _control(http, sandbox, "POST", "faults", {"path": TIME, "mode": "hold"})
    held = asyncio.create_task(http.get(sandbox + TIME))
    await _control(http, sandbox, "GET", "faults/held?wait=10")
    ws = await http.ws_connect(sandbox.replace("http", "ws", 1) + "/ws/v5/public")
    data = state_document
    data["accounts"]["alice"]["trading"]["BTC"] = "7"
    status, answer = await _control(http, sandbox, "PUT", "state", data)
    assert (status, answer) == (200, {"ok": True, "closed": 1})
    message = await asyncio.wait_for(ws.receive(), 10)
    assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1012)
    await ws.close()
    async with await asyncio.wait_for(held, 10) as response:
        assert response.status == 200  # released, answered from the new books
    assert (await _control(http, sandbox, "GET", "faults"))[1] == {"faults": []}
    _, log = await _control(http, sandbox, "GET", "requests")
    assert [entry["path"] for entry in log] == [TIME]  # only the released one, after the reset
    _, ws_state = await _control(http, sandbox, "GET", "ws")
    assert (ws_state["opened"], ws_state["connections"]) == (0, [])
    path = "/api/v5/account/balance?ccy=BTC"
    _, body = await okx.get(http, sandbox + path, okx.headers("alice", path))
    assert body["data"][0]["details"][0]["cashBal"] == "7"  # the new state, not the trade


@pytest.mark.parametrize("body", [{"keys": "nope"}, [], {"accounts": {"a": {"x": 1}}}])
async def test_put_state_refuses_a_bad_document_and_keeps_the_old_one(
    sandbox: str, http: aiohttp.ClientSession, okx: Any, body: Any
) -> None:
    status, answer = await _control(http, sandbox, "PUT", "state", body)
    assert status == 400 and answer["error"]
    assert await _funding_status(http, sandbox, okx) == 200


@pytest.mark.parametrize(
    ("exchange", "path"),
    [("okx", FUNDING), ("binance", "/api/v3/account"), ("kraken", "/0/private/Balance")],
)
async def test_reset_sends_part_of_the_body_then_aborts_the_connection(
    http: aiohttp.ClientSession, exchange: str, path: str
) -> None:
    from keyfolio.sandbox.venues import parse_state

    # the core middleware applies it before any venue code: no key, no signature needed
    async with run_sandbox(parse_state({"exchange": exchange}), rate_limit=False) as url:
        await _control(http, url, "POST", "faults", {"path": path, "mode": "reset"})
        async with http.get(url + path) as response:
            assert response.status == 200
            assert response.content_length is not None
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
        _, log = await _control(http, url, "GET", "requests")
        assert [(entry["path"], entry["code"]) for entry in log] == [(path, "reset")]
        status, _ = await _control(http, url, "GET", "faults")  # the server is still serving
        assert status == 200
