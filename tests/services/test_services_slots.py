"""How many accounts a sync refreshes at once: each venue's own number, or the override.

Counted on the sandbox: its trading-balance answers are held, so every account that started
is stuck there; the number held is the number of accounts in flight. No clock involved."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.exchanges.venues import GENERIC_CONCURRENCY, concurrency, venue_info
from keyfolio.services.context import App
from keyfolio.services.slots import AccountSlots
from keyfolio.services.sync import sync_accounts

PASSWORD = "pw-slots-5d1"
BALANCE = "/api/v5/account/balance"
OKX_SLOTS = 50


def _key(i: int) -> dict[str, str]:
    return {"apiKey": f"slots-key-{i:02d}", "secret": f"slots-secret-{i:02d}", "passphrase": "p-9"}


@pytest.fixture
def many() -> Iterator[tuple[str, int]]:
    """An OKX sandbox with more accounts than OKX's slots."""
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues import parse_state

    count = OKX_SLOTS + 2
    state: dict[str, Any] = {
        "tickers": {"BTC-USDT": {"last": "60000"}},
        "keys": [{**_key(i), "perm": "read_only", "account": f"a{i:02d}"} for i in range(count)],
        "accounts": {f"a{i:02d}": {"trading": {"BTC": "1"}} for i in range(count)},
    }
    with SandboxThread(parse_state(state), rate_limit=False) as server:
        yield server.url, count


def _control(url: str, path: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _app(home: Path, url: str, count: int, **settings: Any) -> App:
    app = App(settings=Settings(home=home, **settings), password=lambda **_: PASSWORD)
    vault = app.vault(create=True)
    with app.db().session() as store:
        for i in range(count):
            store.add_account(spec=AccountSpec(exchange="okx", name=f"a{i:02d}", api_url=url))
    for i in range(count):
        key = _key(i)
        fields = {"apiKey": key["apiKey"], "secret": key["secret"], "password": key["passphrase"]}
        vault.set(f"a{i:02d}", Credentials(fields=fields))
    return app


async def _in_flight(app: App, url: str, expected: int) -> tuple[int, set[str]]:
    """Hold every trading-balance answer, sync, wait until ``expected`` accounts are held and
    their other sources answered; return how many are held and which keys reached the sandbox.
    Then release everything and check the sync ends well."""
    _control(url, "/__sandbox__/faults", "POST", {"path": BALANCE, "mode": "hold", "count": 500})
    sync = asyncio.create_task(sync_accounts(app, history=False))
    deadline = time.monotonic() + 60
    while True:  # the condition, not a time: `expected` accounts stuck on their balance
        held = await asyncio.to_thread(_control, url, "/__sandbox__/faults/held")
        log = await asyncio.to_thread(_control, url, "/__sandbox__/requests")
        funding = {e["key"] for e in log if e["path"].startswith("/api/v5/asset/balances")}
        if len(held["held"]) >= expected and len(funding) >= expected:
            break
        assert time.monotonic() < deadline, f"{len(held['held'])} held, waiting for {expected}"
        await asyncio.sleep(0.02)
    keys = {e["key"] for e in log if e["key"]}
    _control(url, "/__sandbox__/faults", "DELETE")
    _control(url, "/__sandbox__/faults/release", "POST", {})
    report = await sync
    assert {o.status for o in report.outcomes} == {"ok"}
    return len(held["held"]), keys


async def test_okx_accounts_sync_fifty_at_once_by_default(
    tmp_path: Path, many: tuple[str, int]
) -> None:
    url, count = many
    app = _app(tmp_path / "home", url, count)
    held, keys = await _in_flight(app, url, OKX_SLOTS)
    assert held == OKX_SLOTS and len(keys) == OKX_SLOTS  # not the old flat 8, and not all 52
    app.close()


async def test_keyfolio_sync_concurrency_overrides_every_venue(
    tmp_path: Path, many: tuple[str, int]
) -> None:
    url, _ = many
    app = _app(tmp_path / "home", url, 6, sync_concurrency=3)
    held, keys = await _in_flight(app, url, 3)
    assert held == 3 and len(keys) == 3
    app.close()


def test_each_venue_has_its_own_slots_and_binance_shares_an_ip_budget() -> None:
    assert concurrency("okx") == OKX_SLOTS
    assert concurrency("binance") < concurrency("bybit")  # per IP, not per key
    assert concurrency("kucoin") == GENERIC_CONCURRENCY  # no documented numbers: cautious
    info = venue_info("binance")
    assert info is not None and info.concurrency == 12_000 // (1 + 150 + 150)


async def test_venues_do_not_wait_for_each_other() -> None:
    slots = AccountSlots(Settings())
    okx, binance = AccountSpec(exchange="okx", name="o"), AccountSpec(exchange="binance", name="b")
    assert slots(okx) is slots(AccountSpec(exchange="okx", name="o2"))
    assert slots(okx) is not slots(binance)
    shared = AccountSlots(Settings(sync_concurrency=2))
    assert shared(okx) is shared(binance) and shared.limit(okx) == 2
