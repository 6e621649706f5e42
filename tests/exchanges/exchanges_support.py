"""Helpers for the exchanges tests: a real OKX sandbox on 127.0.0.1 (port 0), real ccxt."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from keyfolio.domain.accounts import AccountSpec, Credentials, Region

ALICE_KEY: dict[str, Any] = {
    "apiKey": "alice-read-key",
    "secret": "alice-secret-0123456789",
    "passphrase": "Alice-pass-phrase!1",
    "perm": "read_only",
    "account": "alice",
    "label": "tracker",
}

BASE_STATE: dict[str, Any] = {
    "tickers": {"BTC-USDT": {"last": "60000"}, "ETH-USDT": {"last": "3000"}},
    "keys": [ALICE_KEY],
    "accounts": {
        "alice": {
            "uid": "44556677",
            "trading": {"BTC": "0.5", "USDT": "1000.123456789"},
            "funding": {"ETH": "2", "USDT": "50", "BETH": "1.5"},
            "savings": {"USDT": "500"},
            "onchain_earn": [
                {"ccy": "SOL", "amt": "10", "productId": "1234"},
                {"ccy": "SOL", "amt": "2.5", "productId": "1235"},
                {"ccy": "DOT", "amt": "0.000000001", "productId": "77"},
            ],
            "eth_staking": "1.5",
        }
    },
}


def alice_credentials(**changes: str) -> Credentials:
    fields = {
        "apiKey": ALICE_KEY["apiKey"],
        "secret": ALICE_KEY["secret"],
        "password": ALICE_KEY["passphrase"],
    }
    fields.update(changes)
    return Credentials(fields=fields)


def make_state(**key_changes: Any) -> dict[str, Any]:
    """The base state with alice's key changed (perm, region, demo, ip, ...)."""
    state = copy.deepcopy(BASE_STATE)
    state["keys"][0].update(key_changes)
    return state


def spec_for(url: str, *, region: Region = Region.GLOBAL, demo: bool = False) -> AccountSpec:
    return AccountSpec(exchange="okx", name="alice", region=region, demo=demo, api_url=url)


@asynccontextmanager
async def sandbox(state: dict[str, Any], **kwargs: Any) -> AsyncIterator[str]:
    from keyfolio.sandbox.core.server import run_sandbox
    from keyfolio.sandbox.venues.okx.state import parse_state

    async with run_sandbox(parse_state(state), **kwargs) as url:
        yield url


async def control(url: str, path: str, body: Any = None) -> Any:
    """Call the sandbox control API (POST with a body, else GET)."""
    async with aiohttp.ClientSession() as session:
        if body is None:
            async with session.get(f"{url}/__sandbox__/{path}") as response:
                assert response.status == 200, await response.text()
                return await response.json()
        async with session.post(f"{url}/__sandbox__/{path}", json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()


async def requests_log(url: str) -> list[dict[str, Any]]:
    log = await control(url, "requests")
    return list(log["requests"] if isinstance(log, dict) else log)
