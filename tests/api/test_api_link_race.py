"""Two POST /api/v1/accounts of one name at once, in one server: one account, its own key.

The first request is held at a gate in front of the sandbox while it validates its key (past
every name check); the second comes in then. Ordered by events, never by sleeping.
"""

from __future__ import annotations

import asyncio

import httpx
from api_support import BOB_KEY, PASSWORD, READ_KEY, body
from fastapi import FastAPI
from race_support import Gate

from keyfolio.config import Settings
from keyfolio.vault import Vault


async def test_concurrent_links_of_one_name_keep_the_first_key(
    client: httpx.AsyncClient, api: FastAPI, settings: Settings, sandbox_url: str
) -> None:
    with Gate(sandbox_url) as gate:
        first = asyncio.create_task(
            client.post("/api/v1/accounts", json=body(READ_KEY, name="main", url=gate.url))
        )
        assert await asyncio.to_thread(gate.arrived.wait, 60)
        second = await client.post(
            "/api/v1/accounts", json=body(BOB_KEY, name="main", url=sandbox_url)
        )
        gate.open()
        linked = await first
    assert linked.status_code == 201, linked.text
    assert second.status_code == 409, second.text
    assert second.json()["error"] == "conflict"
    assert "another keyfolio is linking" in second.json()["message"]
    assert second.json()["hint"]
    accounts = (await client.get("/api/v1/accounts")).json()
    assert [account["name"] for account in accounts] == ["main"]
    vault = Vault.open(settings.vault_path, PASSWORD)
    assert vault.names() == ["main"]
    assert vault.get("main").api_key == READ_KEY["apiKey"]
    assert api.state.keyfolio.app.vault().get("main").api_key == READ_KEY["apiKey"]
