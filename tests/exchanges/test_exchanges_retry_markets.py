"""Retry backoff and the markets cache (pure: no exchange involved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyfolio.errors import (
    ExchangeAuthError,
    ExchangeUnavailableError,
    RateLimitedError,
)
from keyfolio.exchanges.markets import MarketData, MarketsCache
from keyfolio.exchanges.retry import backoff_delay, call_with_retries


def test_backoff_is_exponential_capped_and_longer_when_rate_limited() -> None:
    delays = [backoff_delay(a, base_delay=0.25, rate_limited=False) for a in range(7)]
    assert delays[:4] == [0.25, 0.5, 1.0, 2.0]
    assert max(delays) == 8.0
    assert backoff_delay(0, base_delay=0.25, rate_limited=True) == 1.0


async def test_retries_temporary_errors_then_succeeds() -> None:
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RateLimitedError("slow down", exchange_code="50011")
        return "ok"

    assert await call_with_retries(flaky, retries=3, base_delay=0.001) == "ok"
    assert len(calls) == 3


async def test_gives_up_after_retries_with_attempt_count() -> None:
    calls = []

    async def down() -> None:
        calls.append(1)
        raise ExchangeUnavailableError("OKX is down.", exchange_code="50026")

    with pytest.raises(ExchangeUnavailableError) as info:
        await call_with_retries(down, retries=2, base_delay=0.001)
    assert len(calls) == 3
    assert "Gave up after 3 attempts" in info.value.message
    assert info.value.exchange_code == "50026"


async def test_auth_errors_are_not_retried() -> None:
    calls = []

    async def bad_key() -> None:
        calls.append(1)
        raise ExchangeAuthError("no")

    with pytest.raises(ExchangeAuthError):
        await call_with_retries(bad_key, retries=3, base_delay=0.001)
    assert len(calls) == 1


async def test_markets_cache_memory_disk_and_ttl(tmp_path: Path) -> None:
    loads = []

    async def loader() -> MarketData:
        loads.append(1)
        return MarketData(markets=[{"id": "BTC-USDT", "symbol": "BTC/USDT"}])

    cache = MarketsCache(tmp_path / "cache", ttl_seconds=3600)
    first = await cache.get("okx", "127.0.0.1:1234", loader)
    again = await cache.get("okx", "127.0.0.1:1234", loader)
    assert first is again and len(loads) == 1
    path = tmp_path / "cache" / "markets-okx-127.0.0.1_1234.json"
    assert json.loads(path.read_text())["markets"][0]["id"] == "BTC-USDT"

    fresh_process = MarketsCache(tmp_path / "cache", ttl_seconds=3600)
    from_disk = await fresh_process.get("okx", "127.0.0.1:1234", loader)
    assert from_disk.markets == first.markets and len(loads) == 1

    expired = MarketsCache(tmp_path / "cache", ttl_seconds=0)
    await expired.get("okx", "127.0.0.1:1234", loader)
    assert len(loads) == 2


async def test_markets_cache_ignores_a_damaged_file(tmp_path: Path) -> None:
    cache = MarketsCache(tmp_path, ttl_seconds=3600)
    cache.path("okx", "www.okx.com").write_text("{not json")

    async def loader() -> MarketData:
        return MarketData(markets=[])

    assert (await cache.get("okx", "www.okx.com", loader)).markets == []
