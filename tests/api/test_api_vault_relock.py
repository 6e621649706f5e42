"""The vault re-locks in `keyfolio serve` after an idle period, and what that stops.

The idle clock is injected (``create_app(clock=...)``): a test advances it and then asks for
the check (``relock_if_idle``) or wakes the watcher, so nothing here waits for time to pass.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from api_support import PASSWORD, READ_KEY, body, control
from fastapi import FastAPI

from keyfolio import logging as kf_logging
from keyfolio.api.app import create_app
from keyfolio.api.deps import ServerState
from keyfolio.api.server import ServerThread
from keyfolio.api.vault_session import VaultSession
from keyfolio.config import Settings
from keyfolio.errors import VaultLockedError
from keyfolio.logging import MASK, redact
from keyfolio.services.context import App

SECRET = READ_KEY["secret"]


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


@pytest.fixture(autouse=True)
def keep_redaction_registry() -> Iterator[None]:
    """A re-lock empties the process-wide redaction registry: restore it for other tests."""
    saved = set(kf_logging._secrets)
    yield
    with kf_logging._lock:
        kf_logging._secrets.clear()
        kf_logging._secrets.update(saved)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def masked(value: str) -> bool:
    return redact(value, patterns=False) == MASK


@pytest.fixture
async def http_for() -> AsyncIterator[object]:
    clients: list[tuple[httpx.AsyncClient, FastAPI]] = []

    def make(api: FastAPI) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=api), base_url="http://127.0.0.1"
        )
        clients.append((client, api))
        return client

    yield make
    for client, api in clients:
        await client.aclose()
        api.state.keyfolio.app.close()


async def wait_task(state: ServerState, task_id: str) -> str:
    async with asyncio.timeout(30):
        return (await state.tasks.wait(task_id)).state


async def test_idle_relock_drops_the_open_vault_and_the_password(
    settings: Settings, sandbox_url: str, clock: FakeClock, http_for
) -> None:
    api = create_app(settings, password=PASSWORD, live=False, clock=clock)
    state: ServerState = api.state.keyfolio
    http = http_for(api)
    async with state.app.bus.subscribe(frozenset({"vault.status"})) as events:
        linked = await http.post(
            "/api/v1/accounts", json=body(READ_KEY, name="alice", url=sandbox_url)
        )
        assert linked.status_code == 201, linked.text
        assert state.app.is_open and masked(PASSWORD) and masked(SECRET)

        clock.advance(14)
        assert not await state.vault.relock_if_idle()
        sync = await http.post("/api/v1/sync", json={})  # a use by the user: a new idle period
        assert await wait_task(state, sync.json()["task"]) == "done"
        clock.advance(14)
        assert not await state.vault.relock_if_idle()
        clock.advance(1)
        assert await state.vault.relock_if_idle()

        async with asyncio.timeout(5):
            event = await events.get()
        assert event.data == {"unlocked": False, "reason": "idle"}
    # The derived key, the decrypted credentials and the password are gone, and so are the
    # redaction registry's copies (nothing in the process holds a credential now).
    assert not state.app.is_open and state.app._vault is None
    assert state.vault._password is None
    with pytest.raises(VaultLockedError):
        state.vault.provide()
    assert not masked(PASSWORD) and not masked(SECRET)

    assert (await http.get("/api/v1/vault")).json()["unlocked"] is False
    account = (await http.get("/api/v1/accounts/alice")).json()
    assert account["key"] == "api-…1c7a"  # the mask seen while it was open
    refused = await http.post("/api/v1/sync", json={})
    assert refused.status_code == 423 and refused.json()["error"] == "vault_locked"

    unlocked = await http.post("/api/v1/vault/unlock", json={"password": PASSWORD})
    assert unlocked.status_code == 200 and unlocked.json()["unlocked"] is True
    again = await http.post("/api/v1/sync", json={})
    assert again.status_code == 202
    assert await wait_task(state, again.json()["task"]) == "done"


async def test_a_vault_idle_minutes_of_zero_never_relocks(
    settings: Settings, clock: FakeClock, http_for
) -> None:
    api = create_app(replace(settings, vault_idle_minutes=0), live=False, clock=clock)
    http = http_for(api)
    assert (await http.post("/api/v1/vault/unlock", json={"password": PASSWORD})).status_code == 200
    state: ServerState = api.state.keyfolio
    clock.advance(60 * 24 * 365)
    assert state.vault.seconds_left() is None
    assert not await state.vault.relock_if_idle()
    assert (await http.get("/api/v1/vault")).json()["idle_minutes"] is None


async def test_with_keyfolio_password_the_server_reopens_the_vault_itself(
    settings: Settings,
    sandbox_url: str,
    clock: FakeClock,
    http_for,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEYFOLIO_PASSWORD", PASSWORD)
    api = create_app(settings, live=False, clock=clock)
    state: ServerState = api.state.keyfolio
    http = http_for(api)
    linked = await http.post("/api/v1/accounts", json=body(READ_KEY, name="alice", url=sandbox_url))
    assert linked.status_code == 201, linked.text
    clock.advance(16)
    assert await state.vault.relock_if_idle()
    assert not state.app.is_open  # the open vault is dropped all the same
    vault = (await http.get("/api/v1/vault")).json()
    assert vault["unlocked"] is True and vault["auto_unlock"] is True
    assert masked(PASSWORD) and masked(SECRET)  # the live engine may still hold them
    sync = await http.post("/api/v1/sync", json={})
    assert sync.status_code == 202
    assert await wait_task(state, sync.json()["task"]) == "done"
    assert state.app.is_open


async def test_a_wrong_keyfolio_password_falls_back_to_the_unlock_page(
    settings: Settings,
    sandbox_url: str,
    clock: FakeClock,
    http_for,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = create_app(settings, password=PASSWORD, live=False)
    assert (
        await http_for(first).post(
            "/api/v1/accounts", json=body(READ_KEY, name="alice", url=sandbox_url)
        )
    ).status_code == 201
    monkeypatch.setenv("KEYFOLIO_PASSWORD", "wrong-vault-PLANTED-7x")
    api = create_app(settings, live=False, clock=clock)
    http = http_for(api)
    assert (await http.get("/api/v1/vault")).json()["auto_unlock"] is True
    refused = await http.post("/api/v1/sync", json={})
    assert refused.status_code == 400 and refused.json()["error"] == "vault_decrypt"
    vault = (await http.get("/api/v1/vault")).json()
    assert vault["auto_unlock"] is False and vault["unlocked"] is False
    assert (await http.post("/api/v1/vault/unlock", json={"password": PASSWORD})).status_code == 200
    assert (await http.post("/api/v1/sync", json={})).status_code == 202


async def test_a_running_sync_postpones_the_relock(tmp_path: Path, clock: FakeClock) -> None:
    running = True
    app = App(settings=Settings(home=tmp_path), password=lambda **_: "unused")
    session = VaultSession(
        app, password=PASSWORD, idle_minutes=1, clock=clock, busy=lambda: running
    )
    session.unlock_blocking()  # no vault file yet: holds the password that will create it
    assert session.is_open
    clock.advance(2)
    assert not await session.relock_if_idle()
    running = False
    assert await session.relock_if_idle()
    assert not session.is_open and not session.unlocked


async def test_the_watcher_relocks_when_woken_after_the_clock_moved(
    tmp_path: Path, clock: FakeClock
) -> None:
    app = App(settings=Settings(home=tmp_path), password=lambda **_: "unused")
    session = VaultSession(app, password=PASSWORD, idle_minutes=15, clock=clock)
    async with app.bus.subscribe(frozenset({"vault.status"})) as events:
        watcher = asyncio.create_task(session.watch())
        try:
            await session.unlock(PASSWORD)
            assert (await events.get()).data == {"unlocked": True, "reason": "unlock"}
            clock.advance(15)
            session.wake()
            async with asyncio.timeout(5):
                event = await events.get()
            assert event.data == {"unlocked": False, "reason": "idle"}
            assert not session.is_open
        finally:
            watcher.cancel()


async def _until(check, what: str) -> None:
    """Poll ``check`` (a coroutine function) until it is true; a 20 s guard, not a timing."""
    async with asyncio.timeout(20):
        while not await check():
            await asyncio.sleep(0.02)


def _private_sockets(sandbox_url: str) -> int:
    return sum(
        1 for conn in control(sandbox_url, "/__sandbox__/ws")["connections"] if conn["private"]
    )


async def test_relock_stops_the_live_engine_and_unlock_restarts_it(
    settings: Settings, sandbox_url: str, clock: FakeClock
) -> None:
    with ServerThread(settings, password=PASSWORD, clock=clock) as server:
        state: ServerState = server.api.state.keyfolio
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            linked = await http.post(
                "/api/v1/accounts", json=body(READ_KEY, name="alice", url=sandbox_url)
            )
            assert linked.status_code == 201, linked.text

            async def streaming() -> bool:
                account = (await http.get("/api/v1/accounts/alice")).json()
                return account["stream"] == "live"

            await _until(streaming, "the account stream to be live")
            assert _private_sockets(sandbox_url) == 1
            assert (await http.get("/api/v1/health")).json()["refresh"] == "live"

            async with http.stream("GET", "/api/v1/events") as stream:
                lines = stream.aiter_lines()
                assert await anext(lines) == ": connected"
                clock.advance(15)
                state.vault.wake()
                seen = await _events(
                    lines,
                    {
                        "vault.status": lambda data: True,
                        "account.status": lambda data: data["status"] == "locked",
                    },
                )
            assert seen["vault.status"] == {"unlocked": False, "reason": "idle"}
            assert seen["account.status"]["account"] == "alice"
            assert "Unlock" in seen["account.status"]["hint"]

            health = (await http.get("/api/v1/health")).json()
            assert health["refresh"] == "locked" and health["live"] is False
            assert health["vault"]["unlocked"] is False
            account = (await http.get("/api/v1/accounts/alice")).json()
            assert account["stream"] == "locked" and account["key"] == "api-…1c7a"

            async def closed() -> bool:
                return _private_sockets(sandbox_url) == 0

            await _until(closed, "the private WebSocket to close")
            assert state.live._engine is None and not state.app.is_open

            unlocked = await http.post("/api/v1/vault/unlock", json={"password": PASSWORD})
            assert unlocked.status_code == 200
            await _until(streaming, "the stream to come back")
            assert (await http.get("/api/v1/health")).json()["refresh"] == "live"


async def _events(
    lines: AsyncIterator[str], wanted: dict[str, Callable[[dict], bool]]
) -> dict[str, dict]:
    """The first event of each wanted type that its predicate accepts, from an SSE stream."""
    found: dict[str, dict] = {}
    current = None
    async with asyncio.timeout(15):
        async for line in lines:
            if line.startswith("event: "):
                current = line.removeprefix("event: ")
            elif line.startswith("data: ") and current in wanted and current not in found:
                data = json.loads(line.removeprefix("data: "))
                if wanted[current](data):
                    found[current] = data
                    if set(found) == set(wanted):
                        return found
    raise AssertionError(f"the stream ended before {set(wanted) - set(found)}")
