"""POST /sync and GET /tasks/{id}: a background sync against the sandbox, and its events."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
from api_support import control
from fastapi import FastAPI

from keyfolio.services.events import Event


async def collect_until(api: FastAPI, action, wanted: str) -> list[Event]:
    """Run ``action`` while subscribed to the bus; return events up to ``wanted``."""
    bus = api.state.keyfolio.app.bus
    seen: list[Event] = []
    async with bus.subscribe() as events:
        await action()
        async with asyncio.timeout(60):  # only bounds a failure
            while not seen or seen[-1].type != wanted:
                seen.append(await events.get())
    return seen


async def test_sync_task_reports_progress_and_publishes_events(
    linked: httpx.AsyncClient, api: FastAPI, sandbox_url: str
) -> None:
    client = linked
    control(
        sandbox_url,
        "/__sandbox__/trade",
        {"account": "alice", "instId": "BTC-USDT", "side": "sell", "sz": "0.1"},
    )
    task_ids: list[str] = []

    async def start() -> None:
        response = await client.post("/api/v1/sync", json={"accounts": ["alice"]})
        assert response.status_code == 202, response.text
        task_ids.append(response.json()["task"])

    events = await collect_until(api, start, "portfolio.updated")
    (task_id,) = task_ids
    kinds = [(e.type, e.data.get("event") or e.data.get("status")) for e in events]
    assert kinds[:2] == [("sync.progress", "start"), ("sync.progress", "ok")]
    assert ("account.status", "ok") in kinds
    assert events[-1].data == {"portfolio": "main", "account": "alice", "reason": "sync"}
    assert all(e.data.get("task", task_id) == task_id for e in events)
    task = (await client.get(f"/api/v1/tasks/{task_id}")).json()
    assert task == {
        "id": task_id,
        "kind": "sync",
        "state": "done",
        "progress": {"done": 1, "total": 1},
        "accounts": [{"account": "alice", "status": "ok", "error": None, "hint": None}],
        "error": None,
    }
    summary = (await client.get("/api/v1/summary")).json()
    btc = next(h for h in summary["holdings"] if h["asset"] == "BTC")
    assert Decimal(btc["amount"]) == Decimal("0.4")


async def test_sync_all_and_failures(
    linked: httpx.AsyncClient, api: FastAPI, sandbox_url: str
) -> None:
    client = linked
    control(sandbox_url, "/__sandbox__/faults", {"path": "*", "mode": "http500", "count": 100})
    response = await client.post("/api/v1/sync")
    assert response.status_code == 202
    task = await api.state.keyfolio.tasks.wait(response.json()["task"])
    out = (await client.get(f"/api/v1/tasks/{task.id}")).json()
    assert out["state"] == "done" and out["progress"] == {"done": 1, "total": 1}
    (account,) = out["accounts"]
    assert account["status"] == "failed" and account["error"] and account["hint"]
    unknown = await client.post("/api/v1/sync", json={"accounts": ["alice", "ghost"]})
    assert unknown.status_code == 404 and "ghost" in unknown.json()["message"]
    bad = await client.post("/api/v1/sync", json={"accounts": "alice"})
    assert bad.status_code == 422


async def test_sync_without_accounts_is_an_empty_done_task(
    client: httpx.AsyncClient, api: FastAPI
) -> None:
    response = await client.post("/api/v1/sync", json={"accounts": None})
    assert response.status_code == 202
    task = await api.state.keyfolio.tasks.wait(response.json()["task"])
    assert task.to_out().state == "done" and task.total == 0


async def test_a_second_sync_while_one_runs_joins_it(
    linked: httpx.AsyncClient, api: FastAPI
) -> None:
    first, second = await asyncio.gather(
        linked.post("/api/v1/sync", json={}), linked.post("/api/v1/sync", json={})
    )
    assert first.status_code == second.status_code == 202
    assert first.json()["task"] == second.json()["task"]
    task_id = first.json()["task"]
    async with asyncio.timeout(60):  # only bounds a failure
        await api.state.keyfolio.tasks.wait(task_id)
    assert (await linked.get(f"/api/v1/tasks/{task_id}")).json()["state"] != "running"
    third = await linked.post("/api/v1/sync", json={})
    assert third.json()["task"] != task_id  # a new sync once the first is done
