"""GET /events over a real uvicorn server (ServerThread): SSE delivery, disconnect, shutdown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
from api_support import PASSWORD, READ_KEY, TOKEN, body, control

from keyfolio.api.server import ServerThread
from keyfolio.config import Settings

SELL_HALF_A_BTC = {"account": "alice", "instId": "BTC-USDT", "side": "sell", "sz": "0.5"}


async def next_event(lines: AsyncIterator[str], wanted: str) -> dict:
    """Read SSE lines until an event of type ``wanted``; return its data."""
    current = None
    async with asyncio.timeout(60):  # only bounds a failure
        async for line in lines:
            if line.startswith("event: "):
                current = line.removeprefix("event: ")
            elif line.startswith("data: ") and current == wanted:
                return json.loads(line.removeprefix("data: "))
    raise AssertionError(f"the stream ended before {wanted}")


async def wait_for(predicate, what: str) -> None:
    """Until ``predicate()`` holds (state of the server thread: no event to await)."""
    async with asyncio.timeout(60):  # only bounds a failure
        while not predicate():
            await asyncio.sleep(0.01)


async def test_sse_delivers_portfolio_updated_after_a_trade_and_sync(
    settings: Settings, sandbox_url: str
) -> None:
    with ServerThread(settings, password=PASSWORD, live=False) as server:
        bus = server.api.state.keyfolio.app.bus
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            linked = await http.post(
                "/api/v1/accounts", json=body(READ_KEY, name="alice", url=sandbox_url)
            )
            assert linked.status_code == 201, linked.text
            async with http.stream("GET", "/api/v1/events") as stream:
                assert stream.status_code == 200
                assert stream.headers["content-type"].startswith("text/event-stream")
                assert stream.headers["x-content-type-options"] == "nosniff"
                lines = stream.aiter_lines()
                assert await anext(lines) == ": connected"
                control(sandbox_url, "/__sandbox__/trade", SELL_HALF_A_BTC)
                started = await http.post("/api/v1/sync", json={})
                assert started.status_code == 202
                progress = await next_event(lines, "sync.progress")
                assert progress["task"] == started.json()["task"]
                status = await next_event(lines, "account.status")
                assert status["account"] == "alice" and status["status"] == "ok"
                update = await next_event(lines, "portfolio.updated")
                assert update == {"portfolio": "main", "account": "alice", "reason": "sync"}
                summary = (await http.get("/api/v1/summary")).json()
                assert "BTC" not in {h["asset"] for h in summary["holdings"]}
            # the client went away: the server drops its subscription
            await wait_for(lambda: bus.subscribers == 0, "the subscription to end")


async def test_open_streams_end_when_the_server_stops(settings: Settings) -> None:
    server = ServerThread(settings, live=False)
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            async with http.stream("GET", "/api/v1/events") as stream:
                lines = stream.aiter_lines()
                assert await anext(lines) == ": connected"
                stopping = asyncio.create_task(asyncio.to_thread(server.stop))
                async with asyncio.timeout(10):
                    rest = [line async for line in lines]
                assert all(not line.startswith("event:") for line in rest)
                async with asyncio.timeout(10):
                    await stopping
    finally:
        server.stop()


async def test_events_accept_the_token_as_a_query_parameter(settings: Settings) -> None:
    with ServerThread(settings, token=TOKEN, live=False) as server:
        bus = server.api.state.keyfolio.app.bus
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            refused = await http.get("/api/v1/events")
            assert refused.status_code == 401
            async with http.stream(
                "GET", "/api/v1/events", params={"token": TOKEN, "types": "account.status"}
            ) as stream:
                assert stream.status_code == 200
                lines = stream.aiter_lines()
                assert await anext(lines) == ": connected"
                bus.publish(
                    "portfolio.updated", {"portfolio": "main", "account": None, "reason": "x"}
                )
                bus.publish(
                    "account.status",
                    {"account": "a", "status": "live", "error": None, "hint": None, "source": None},
                )
                data = await next_event(lines, "account.status")
                assert data["status"] == "live"


async def test_live_engine_in_the_server_pushes_a_sandbox_trade(
    settings: Settings, sandbox_url: str
) -> None:
    with ServerThread(settings, password=PASSWORD) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            linked = await http.post(
                "/api/v1/accounts", json=body(READ_KEY, name="alice", url=sandbox_url)
            )
            assert linked.status_code == 201, linked.text
            assert (await http.get("/api/v1/health")).json()["live"] is True
            async with asyncio.timeout(60):  # only bounds a failure
                while (await http.get("/api/v1/accounts/alice")).json()["stream"] != "live":
                    await asyncio.sleep(0.02)
            async with http.stream("GET", "/api/v1/events") as stream:
                lines = stream.aiter_lines()
                assert await anext(lines) == ": connected"
                control(sandbox_url, "/__sandbox__/trade", SELL_HALF_A_BTC)
                update = await next_event(lines, "portfolio.updated")
                while update["reason"] != "trade":
                    update = await next_event(lines, "portfolio.updated")
                assert update["account"] == "alice"
            summary = (await http.get("/api/v1/summary")).json()
            assert "BTC" not in {h["asset"] for h in summary["holdings"]}
