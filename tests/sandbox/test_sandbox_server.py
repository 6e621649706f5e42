"""Starting and stopping: run_sandbox, serve (cancellation), SandboxThread."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import httpx
import pytest

import keyfolio.sandbox
from keyfolio.sandbox.core.server import SandboxThread, run_sandbox, serve
from keyfolio.sandbox.venues.okx.demo import DEMO_READ_ONLY_KEY, demo_state
from keyfolio.sandbox.venues.okx.state import SandboxState


async def test_run_sandbox_yields_a_loopback_url(state: SandboxState) -> None:
    async with run_sandbox(state) as url:
        assert url.startswith("http://127.0.0.1:")
        assert int(url.rsplit(":", 1)[1]) > 0
        async with aiohttp.ClientSession() as http, http.get(url + "/api/v5/public/time") as r:
            assert r.status == 200


async def test_two_servers_do_not_share_state(state: SandboxState, okx: Any) -> None:
    async with (
        run_sandbox(state) as one,
        run_sandbox(state) as two,
        aiohttp.ClientSession() as http,
    ):
        assert one != two
        await okx.control(
            http, one + "/__sandbox__/balances", "POST",
            {"account": "alice", "source": "funding", "ccy": "ETH", "amount": "9"},
        )  # fmt: skip
        path = "/api/v5/asset/balances?ccy=ETH"
        _, body = await okx.get(http, two + path, okx.headers("alice", path))
    assert body["data"][0]["bal"] == "2"
    assert state.accounts["alice"].funding["ETH"] == "2"  # the model itself is untouched


async def _serving(state: SandboxState) -> tuple[asyncio.Task[None], list[str]]:
    """`serve` in a task, once its ``on_ready`` has been called; the task and the URLs."""
    ready: list[str] = []
    listening = asyncio.Event()

    def on_ready(url: str) -> None:
        ready.append(url)
        listening.set()

    task = asyncio.create_task(
        serve(state, host="127.0.0.1", port=0, region="global", latency_ms=0,
              rate_limit=True, on_ready=on_ready)
    )  # fmt: skip
    await asyncio.wait_for(listening.wait(), 30)
    return task, ready


async def test_serve_runs_until_cancelled(state: SandboxState) -> None:
    task, ready = await _serving(state)
    assert len(ready) == 1
    async with aiohttp.ClientSession() as http, http.get(ready[0] + "/api/v5/public/time") as r:
        assert r.status == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(ready[0] + "/api/v5/public/time")


async def test_serve_releases_held_requests_on_cancel(state: SandboxState, okx: Any) -> None:
    task, ready = await _serving(state)
    url = ready[0]
    async with aiohttp.ClientSession() as http:
        await okx.control(
            http, url + "/__sandbox__/faults", "POST",
            {"path": "/api/v5/public/time", "mode": "timeout", "seconds": 600},
        )  # fmt: skip
        held = asyncio.create_task(okx.get(http, url + "/api/v5/public/time"))
        _, listed = await okx.control(http, url + "/__sandbox__/faults/held?wait=30", "GET")
        assert [h["path"] for h in listed["held"]] == ["/api/v5/public/time"]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        status, body = await asyncio.wait_for(held, 10)
    assert (status, body["code"]) == (400, "50004")


async def test_bad_options_are_refused(state: SandboxState) -> None:
    with pytest.raises(ValueError, match="region"):
        async with run_sandbox(state, region="mars"):
            pass
    with pytest.raises(ValueError, match="latency"):
        async with run_sandbox(state, latency_ms=-1):
            pass


def test_sandbox_thread_serves_sync_clients() -> None:
    with SandboxThread(demo_state(), rate_limit=False) as sandbox:
        answer = httpx.get(sandbox.url + "/api/v5/market/ticker?instId=XYZ-USDC").json()
        assert answer["data"][0]["last"] == "0.8734"
        url = sandbox.url
    with pytest.raises(RuntimeError):
        _ = sandbox.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/api/v5/public/time")


def test_sandbox_thread_reports_startup_errors() -> None:
    with pytest.raises(ValueError, match="region"), SandboxThread(demo_state(), region="mars"):
        pass


def test_demo_keys_work_against_the_demo_state() -> None:
    import ccxt

    with SandboxThread(demo_state()) as sandbox:
        exchange = ccxt.okx(
            {
                "apiKey": DEMO_READ_ONLY_KEY["apiKey"],
                "secret": DEMO_READ_ONLY_KEY["secret"],
                "password": DEMO_READ_ONLY_KEY["passphrase"],
                "enableRateLimit": False,
                "urls": {"api": {"rest": sandbox.url}},
            }
        )
        config = exchange.private_get_account_config()
        funding = exchange.fetch_balance({"type": "funding"})
    assert config["data"][0]["perm"] == "read_only"
    assert funding["total"]["ZZZ"] == 4200


def test_every_module_declares_all() -> None:
    import importlib
    import pkgutil

    modules = [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(keyfolio.sandbox.__path__, "keyfolio.sandbox.")
    ]
    assert len(modules) > 20
    for module in modules:
        assert isinstance(module.__all__, list), module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
    assert keyfolio.sandbox.__all__ == []
