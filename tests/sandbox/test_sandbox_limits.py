"""The core's rate limits: the per-IP scale, the count of refused requests, the answers per
status (``GET /__sandbox__/limits``), and waiting for N held requests."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from keyfolio.sandbox.core.limits import RateLimiter
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues.okx.state import SandboxState

TICKER = "/api/v5/market/ticker?instId=BTC-USDT"  # OKX: 20 requests / 2 s per IP
BALANCE = "/api/v5/account/balance"  # OKX: 10 requests / 2 s per key


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _control(http: aiohttp.ClientSession, url: str, path: str) -> Any:
    async with http.get(url + "/__sandbox__/" + path) as response:
        assert response.status == 200
        return await response.json()


async def _status(http: aiohttp.ClientSession, url: str, headers: Any = None) -> int:
    async with http.get(url, headers=headers or {}) as response:
        await response.read()
        return response.status


def test_the_ip_scale_applies_to_per_ip_limits_only() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, ip_scale=0.1)
    assert [limiter.allow("ip:10.0.0.1", "t", 20, 2.0) for _ in range(3)] == [True, True, False]
    assert [limiter.allow("key:k", "t", 3, 2.0) for _ in range(4)] == [True, True, True, False]
    # Never below one request of the largest weight: a weight-150 request still fits alone.
    assert limiter.limit_of("ip:10.0.0.1", 1000, weight=150) == 150
    assert limiter.allow("ip:10.0.0.1", "sapi", 1000, 60.0, weight=150)
    assert not limiter.allow("ip:10.0.0.1", "sapi", 1000, 60.0, weight=150)
    clock.now = 2.0  # the 2 s windows slid past
    assert limiter.allow("ip:10.0.0.1", "t", 20, 2.0)
    described = limiter.describe()
    assert described["refused"] == 3
    assert described["refused_by_limit"] == {"sapi": 1, "t": 2}
    windows = {(w["who"], w["what"], w["used"], w["limit"], w["total"])
               for w in described["windows"]}  # fmt: skip
    assert windows == {
        ("ip:10.0.0.1", "t", 1, 2, 3), ("key:k", "t", 0, 3, 3),
        ("ip:10.0.0.1", "sapi", 150, 150, 150),
    }  # fmt: skip
    limiter.reset()
    assert limiter.describe()["refused"] == 0 and limiter.describe()["windows"] == []
    with pytest.raises(ValueError, match="ip_scale"):
        RateLimiter(ip_scale=0)


async def test_a_scaled_sandbox_refuses_past_its_per_ip_limit_and_counts_it(
    state: SandboxState, http: aiohttp.ClientSession, okx: Any
) -> None:
    async with run_sandbox(state, ip_limit_scale=0.1) as url:
        before = await _control(http, url, "limits")
        assert (before["enforced"], before["ip_scale"], before["refused"]) == (True, 0.1, 0)
        statuses = [await _status(http, url + TICKER) for _ in range(3)]
        assert statuses == [200, 200, 429]  # 20 per 2 s, scaled to 2
        # A per-key limit is not scaled: 10 balance reads in 2 s pass.
        for _ in range(10):
            assert await _status(http, url + BALANCE, okx.headers("alice", BALANCE)) == 200
        counted = await _control(http, url, "limits")
        assert counted["refused"] == 1
        assert counted["refused_by_limit"] == {"/api/v5/market/ticker": 1}
        assert counted["statuses"] == {"200": 12, "429": 1}
        ticker = next(w for w in counted["windows"] if w["what"] == "/api/v5/market/ticker")
        assert (ticker["used"], ticker["limit"], ticker["window"], ticker["total"]) == (
            2, 2, 2.0, 2,
        )  # fmt: skip
        async with http.post(url + "/__sandbox__/reset-limits") as response:
            assert response.status == 200
        reset = await _control(http, url, "limits")
        assert (reset["refused"], reset["statuses"], reset["windows"]) == (0, {}, [])


async def test_an_injected_rate_limit_is_a_429_answer_but_not_a_refusal(
    sandbox: str, http: aiohttp.ClientSession
) -> None:
    fault = {"path": "/api/v5/market/ticker", "mode": "rate_limit"}
    async with http.post(sandbox + "/__sandbox__/faults", json=fault) as response:
        assert response.status == 200
    assert await _status(http, sandbox + TICKER) == 429
    counted = await _control(http, sandbox, "limits")
    assert (counted["refused"], counted["statuses"]) == (0, {"429": 1})


async def test_a_sandbox_without_limits_says_so(
    state: SandboxState, http: aiohttp.ClientSession
) -> None:
    async with run_sandbox(state, rate_limit=False) as url:
        statuses = [await _status(http, url + TICKER) for _ in range(25)]
        assert set(statuses) == {200}
        counted = await _control(http, url, "limits")
        assert (counted["enforced"], counted["refused"]) == (False, 0)


async def test_a_bad_scale_is_refused(state: SandboxState) -> None:
    for bad in (0.0, -1.0, 1001.0):
        with pytest.raises(ValueError, match="ip_limit_scale"):
            async with run_sandbox(state, ip_limit_scale=bad):
                pass


async def test_wait_until_a_number_of_requests_is_held(
    sandbox: str, http: aiohttp.ClientSession
) -> None:
    fault = {"path": "/api/v5/market/ticker", "mode": "hold", "count": 3}
    async with http.post(sandbox + "/__sandbox__/faults", json=fault) as response:
        assert response.status == 200
    requests = [asyncio.create_task(_status(http, sandbox + TICKER)) for _ in range(3)]
    held = await _control(http, sandbox, "faults/held?wait=30&count=3")
    assert len(held["held"]) == 3
    async with http.post(sandbox + "/__sandbox__/faults/release") as response:
        assert (await response.json())["released"] == 3
    assert await asyncio.gather(*requests) == [200, 200, 200]
    async with http.get(sandbox + "/__sandbox__/faults/held?wait=1&count=0") as response:
        assert response.status == 400 and "count" in (await response.json())["error"]
