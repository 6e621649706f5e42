"""Fixtures for the sandbox tests: a state with one key per auth scenario, servers, signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from keyfolio.sandbox.core.server import SandboxThread, run_sandbox
from keyfolio.sandbox.venues.okx.state import SandboxState, parse_state

KEYS: dict[str, dict[str, Any]] = {
    "alice": {"apiKey": "alice-key", "secret": "alice-secret", "passphrase": "alice-pass"},
    "bob": {"apiKey": "bob-key", "secret": "bob-secret", "passphrase": "bob-pass"},
    "eea": {"apiKey": "eea-key", "secret": "eea-secret", "passphrase": "eea-pass", "region": "eea"},
    "demo": {
        "apiKey": "demo-key",
        "secret": "demo-secret",
        "passphrase": "demo-pass",
        "demo": True,
    },
    "ip": {"apiKey": "ip-key", "secret": "ip-secret", "passphrase": "ip-pass", "ip": "10.0.0.1"},
    "trade": {
        "apiKey": "trade-key",
        "secret": "trade-secret",
        "passphrase": "trade-pass",
        "perm": "trade",
    },
}


T0 = (time.time_ns() // 60_000_000_000 - 24 * 60) * 60_000
"""A whole minute a day ago: recent enough for every window (OKX serves fills 3 days back)."""


def state_data() -> dict[str, Any]:
    """A small but complete state: two accounts, one key per auth scenario."""
    keys = []
    for name, key in KEYS.items():
        account = "bob" if name == "bob" else "alice"
        keys.append({"perm": "read_only", "account": account, "label": name, **key})
    return {
        "tickers": {
            "BTC-USDT": {"last": "60000", "open24h": "58000"},
            "ETH-USDT": {"last": "3000"},
            "XYZ-USDC": {"last": "2"},
            "ABC-BTC": {"last": "0.0001"},
        },
        "keys": keys,
        "accounts": {
            "alice": {
                "trading": {"BTC": "0.5", "USDT": "1000", "ZZZ": "7", "ETH": "0"},
                "funding": {"ETH": "2", "USDT": "50", "XYZ": "0"},
                "savings": {
                    "USDT": "500",
                    "ETH": {"amt": "1.5", "earnings": "0.01", "rate": "0.02"},
                },
                "onchain_earn": [
                    {
                        "ccy": "SOL",
                        "amt": "10",
                        "productId": "1234",
                        "protocol": "Solana staking",
                        "apy": "0.07",
                    }
                ],  # fmt: skip
                "eth_staking": "0.25",
                "fills": [
                    {
                        "instId": "BTC-USDT",
                        "side": "buy",
                        "fillPx": "40000",
                        "fillSz": "0.5",
                        "fee": "-0.0005",
                        "feeCcy": "BTC",
                        "ts": str(T0),
                    },
                    {
                        "instId": "ETH-USDT",
                        "side": "sell",
                        "fillPx": "2000",
                        "fillSz": "1",
                        "fee": "-2",
                        "feeCcy": "USDT",
                        "ts": str(T0 + 100_000),
                    },
                ],  # fmt: skip
                "deposits": [
                    {"ccy": "USDT", "amt": "20000", "ts": str(T0 - 10_000_000)},
                    {"ccy": "ETH", "amt": "3", "ts": str(T0 - 5_000_000), "txId": "0xabc"},
                ],
                "withdrawals": [
                    {"ccy": "USDT", "amt": "100", "fee": "1", "ts": str(T0 + 200_000)},
                ],
            },
            "bob": {"trading": {"ETH": "1"}},
        },
    }


@pytest.fixture
def state_document() -> dict[str, Any]:
    """The default state as a JSON document (a fresh copy)."""
    return state_data()


@pytest.fixture
def state() -> SandboxState:
    """The validated default state."""
    return parse_state(state_data(), origin="<test>")


@pytest.fixture
def sandbox_url(state: SandboxState) -> Iterator[str]:
    """A sandbox on its own thread (for synchronous clients such as python-okx)."""
    with SandboxThread(state) as sandbox:
        yield sandbox.url


@pytest.fixture
async def sandbox(state: SandboxState) -> AsyncIterator[str]:
    """A sandbox in the test's own event loop; yields the base URL."""
    async with run_sandbox(state) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp session."""
    async with aiohttp.ClientSession() as session:
        yield session


class Okx:
    """Signing and client helpers shared by the tests (an independent OKX implementation)."""

    keys = KEYS
    t0 = T0

    @staticmethod
    def iso_now(offset_seconds: float = 0.0) -> str:
        """An OKX REST timestamp (ISO 8601, milliseconds, Z), optionally shifted."""
        moment = datetime.now(UTC) + timedelta(seconds=offset_seconds)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @staticmethod
    def sign(secret: str, prehash: str) -> str:
        """Reference signature, computed here without the sandbox's code."""
        digest = hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def headers(
        self,
        who: str,
        path_qs: str,
        *,
        method: str = "GET",
        body: str = "",
        timestamp: str | None = None,
    ) -> dict[str, str]:
        """Signed headers for key ``who`` (``x-simulated-trading: 1`` for the demo key)."""
        key = KEYS[who]
        ts = timestamp if timestamp is not None else self.iso_now()
        return {
            "OK-ACCESS-KEY": key["apiKey"],
            "OK-ACCESS-PASSPHRASE": key["passphrase"],
            "OK-ACCESS-TIMESTAMP": ts,
            "OK-ACCESS-SIGN": self.sign(key["secret"], ts + method + path_qs + body),
            **({"x-simulated-trading": "1"} if key.get("demo") else {}),
        }

    @staticmethod
    def ccxt_config(url: str, who: str = "alice", **extra: Any) -> dict[str, Any]:
        """ccxt okx options pointing at the sandbox (REST and WS), rate limiter off."""
        key = KEYS[who]
        return {
            "apiKey": key["apiKey"],
            "secret": key["secret"],
            "password": key["passphrase"],
            "enableRateLimit": False,
            "urls": {"api": {"rest": url, "ws": url.replace("http", "ws", 1) + "/ws/v5"}},
            **extra,
        }

    @staticmethod
    async def get(
        http: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """GET and return (HTTP status, decoded JSON)."""
        async with http.get(url, headers=headers or {}) as response:
            return response.status, await response.json(content_type=None)

    @staticmethod
    async def control(
        http: aiohttp.ClientSession, url: str, method: str, body: Any = None
    ) -> tuple[int, Any]:
        """Call the control API and return (HTTP status, decoded JSON)."""
        async with http.request(method, url, json=body) as response:
            return response.status, await response.json(content_type=None)


@pytest.fixture
def okx() -> Okx:
    """The :class:`Okx` helper."""
    return Okx()
