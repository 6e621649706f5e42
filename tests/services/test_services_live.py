"""The live engine against the real sandbox: trades, regions, drops, bad keys, polling, prices."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials, Region
from keyfolio.domain.balances import Source
from keyfolio.errors import NotFoundError
from keyfolio.exchanges.stream import Backoff
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues.okx.state import parse_state
from keyfolio.services.accounts import link_account
from keyfolio.services.context import App
from keyfolio.services.events import Event, Subscription
from keyfolio.services.live import LiveEngine
from keyfolio.services.view import portfolio_view

KEYS = {
    "alice": {"apiKey": "live-alice-key", "secret": "live-alice-secret", "passphrase": "Alice-1"},
    "bob": {"apiKey": "live-bob-key", "secret": "live-bob-secret", "passphrase": "Bob-pass-2"},
}
STATE: dict[str, Any] = {
    "tickers": {
        "BTC-USDT": {"last": "60000"},
        "ETH-USDT": {"last": "3000"},
        "ABC-BTC": {"last": "0.0001"},
    },
    "keys": [
        {**KEYS["alice"], "perm": "read_only", "account": "alice"},
        {**KEYS["bob"], "perm": "read_only", "account": "bob"},
    ],
    "accounts": {
        "alice": {
            "trading": {"BTC": "0.5", "USDT": "1000", "ABC": "100"},
            "funding": {"ETH": "2"},
        },
        "bob": {"trading": {"ETH": "1"}},
    },
}
FAST = {
    "backoff": Backoff(base=0.02, cap=0.1),
    "price_interval": 0.02,
    "retry_base_delay": 0.01,
}


def creds(who: str, **changes: str) -> Credentials:
    key = KEYS[who]
    fields = {"apiKey": key["apiKey"], "secret": key["secret"], "password": key["passphrase"]}
    return Credentials(fields={**fields, **changes})


@asynccontextmanager
async def sandbox(state: dict[str, Any] = STATE, **options: Any) -> AsyncIterator[str]:
    async with run_sandbox(parse_state(state), rate_limit=False, **options) as url:
        yield url


async def control(url: str, path: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession() as http:
        method = "GET" if body is None else "POST"
        async with http.request(method, f"{url}/__sandbox__/{path}", json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()


@asynccontextmanager
async def linked(
    tmp_path: Path, url: str | None, names: tuple[str, ...] = ("alice",), **settings: Any
) -> AsyncIterator[App]:
    app = App(settings=Settings(home=tmp_path / "home", **settings), password=lambda **_: "pw-9z")
    try:
        for name in names:
            spec = AccountSpec(exchange="okx", name=name, api_url=url)
            await link_account(app, spec, creds(name))
        yield app
    finally:
        app.close()


async def wait_for(sub: Subscription, match: Callable[[Event], bool], timeout: float = 30) -> Event:
    """The next event that matches (others are skipped), within ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            event = await sub.get()
            if match(event):
                return event


def updated(reason: str, account: str | None = "alice") -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        return (
            event.type == "portfolio.updated"
            and event.data["reason"] == reason
            and event.data["account"] == account
        )

    return match


def status(account: str, value: str) -> Callable[[Event], bool]:
    return lambda e: e.type == "account.status" and e.data == {**e.data, "account": account,
                                                                "status": value}  # fmt: skip


def amounts(app: App, account: str, source: Source) -> dict[str, Decimal]:
    with app.db().session(read_only=True) as store:
        rows = store.balances(account=account, include_excluded=True)
    return {row.asset: row.amount for row in rows if row.source is source and not row.stale}


async def started(engine: LiveEngine) -> LiveEngine:
    await asyncio.wait_for(engine.wait_ready(), 30)
    return engine


async def test_trade_updates_trading_balance_fills_and_publishes(tmp_path: Path) -> None:
    async with sandbox() as url, linked(tmp_path, url) as app, app.bus.subscribe() as sub:
        async with LiveEngine(app, **FAST) as engine:
            await started(engine)
            assert engine.statuses == {"alice": "live"}
            await control(url, "reset-log", {})
            answer = await control(
                url,
                "trade",
                {"account": "alice", "instId": "BTC-USDT", "side": "sell", "sz": "0.1"},
            )
            event = await wait_for(sub, updated("trade"))
            log = await control(url, "requests")
        with app.db().session(read_only=True) as store:
            trade_ids = {trade.trade_id for trade in store.history.trades(accounts=["alice"])}
        trading, funding = (
            amounts(app, "alice", Source.TRADING),
            amounts(app, "alice", Source.FUNDING),
        )
    assert event.data == {"portfolio": "main", "account": "alice", "reason": "trade"}
    assert trading == {"BTC": Decimal("0.4"), "USDT": Decimal("6994"), "ABC": Decimal("100")}
    assert funding == {"ETH": Decimal(2)}  # untouched, not stale
    assert any(answer["fill"]["tradeId"] in t for t in trade_ids)  # the P/L inputs came in too
    paths = [entry["path"].split("?")[0] for entry in log]
    assert paths.count("/api/v5/account/balance") == 1  # one signed read per push
    assert "/api/v5/asset/balances" not in paths


async def test_eea_account_streams_to_its_regional_host(tmp_path: Path) -> None:
    state = copy.deepcopy(STATE)
    state["keys"][0]["region"] = "eea"
    async with sandbox(state, region="eea") as eea, sandbox(state) as world:
        hosts = {"eea": eea, "global": world}
        app = App(settings=Settings(home=tmp_path, okx_hosts=hosts), password=lambda **_: "pw-9z")
        try:
            spec = AccountSpec(exchange="okx", name="alice", region=Region.EEA)
            await link_account(app, spec, creds("alice"))
            async with app.bus.subscribe() as sub, LiveEngine(app, **FAST) as engine:
                assert (await started(engine)).statuses == {"alice": "live"}
                seen_eea, seen_world = await control(eea, "ws"), await control(world, "ws")
                await control(
                    eea, "trade", {"account": "alice", "instId": "BTC-USDT", "side": "sell",
                                   "sz": "0.1"},
                )  # fmt: skip
                await wait_for(sub, updated("trade"))
        finally:
            app.close()
    private = [c for c in seen_eea["connections"] if c["private"]]
    assert [(c["key"], c["subs"]) for c in private] == [
        ("live-alice-key", [{"channel": "account"}])
    ]
    assert seen_eea["logins"] == 1 and seen_eea["login_failures"] == 0
    assert seen_world["opened"] == 0 and seen_world["logins"] == 0  # nothing went global


@pytest.mark.fault("ws_drop", sees="the account 'reconnecting' with Error/Hint; balances kept")
async def test_ws_drop_reconnects_with_a_hint_and_later_trades_arrive(tmp_path: Path) -> None:
    async with sandbox() as url, linked(tmp_path, url) as app, app.bus.subscribe() as sub:
        async with LiveEngine(app, **FAST) as engine:
            await started(engine)
            before = amounts(app, "alice", Source.TRADING)
            assert before["BTC"] == Decimal("0.5")
            await control(url, "ws/drop", {"kind": "private"})
            drop = await wait_for(sub, status("alice", "reconnecting"))
            assert amounts(app, "alice", Source.TRADING) == before  # kept while the WS is down
            await wait_for(sub, status("alice", "live"))
            await control(
                url,
                "trade",
                {"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": "0.01"},
            )
            await wait_for(sub, updated("trade"))
        btc = amounts(app, "alice", Source.TRADING)["BTC"]
    assert drop.data["source"] == "trading" and "close code 4000" in drop.data["error"]
    assert "reconnects" in drop.data["hint"] and float(drop.data["retry_in"]) <= 0.02
    assert btc == Decimal("0.50999")


async def test_bad_key_on_ws_reports_a_hint_and_the_rest_keeps_running(tmp_path: Path) -> None:
    async with sandbox() as url, linked(tmp_path, url, ("alice", "bob")) as app:
        app.vault().set("bob", creds("bob", password="Not-Bobs-Pass-3"))
        async with app.bus.subscribe() as sub, LiveEngine(app, **FAST) as engine:
            failed = await wait_for(sub, status("bob", "failed"))
            await started(engine)
            assert engine.statuses == {"alice": "live", "bob": "failed"}
            await control(
                url,
                "trade",
                {"account": "alice", "instId": "BTC-USDT", "side": "sell", "sz": "0.1"},
            )
            await wait_for(sub, updated("trade"))
    assert failed.data["source"] == "trading"
    assert "passphrase" in failed.data["error"] and "60024" in failed.data["error"]
    assert "passphrase" in failed.data["hint"].lower()
    assert "Not-Bobs-Pass-3" not in repr(failed.data)


async def test_polling_picks_up_a_funding_change(tmp_path: Path) -> None:
    async with sandbox() as url, linked(tmp_path, url) as app, app.bus.subscribe() as sub:
        async with LiveEngine(app, poll_seconds=0.1, **FAST) as engine:
            await started(engine)
            await control(
                url, "balances", {"account": "alice", "source": "funding", "ccy": "ETH",
                                  "amount": "3.25"},
            )  # fmt: skip
            await wait_for(sub, updated("poll"))
        funding = amounts(app, "alice", Source.FUNDING)
    assert funding == {"ETH": Decimal("3.25")}


async def test_ticker_changes_reprice_held_assets_along_their_route(tmp_path: Path) -> None:
    async with sandbox() as url, linked(tmp_path, url) as app, app.bus.subscribe() as sub:
        async with LiveEngine(app, **FAST) as engine:
            await started(engine)
            await control(url, "tickers", {"BTC-USDT": {"last": "61000"}})
            event = await wait_for(sub, updated("price", account=None))
            await control(url, "tickers", {"ABC-BTC": {"last": "0.0002"}})
            await wait_for(sub, updated("price", account=None))
            await control(
                url,
                "trade",
                {"account": "alice", "instId": "BTC-USDT", "side": "sell", "sz": "0.1"},
            )
            await wait_for(sub, updated("trade"))
        with app.db().session(read_only=True) as store:
            prices = store.prices()
        view = portfolio_view(app)
    # each price carries its ticker's own time (the tick pushed for BTC-USDT, ABC-BTC)
    assert not view.has_stale_prices
    # ABC's price is as old as its older leg: the BTC-USDT tick, set before ABC-BTC's
    assert prices["ABC"].as_of == prices["BTC"].as_of
    assert event.data == {"portfolio": "main", "account": None, "reason": "price"}
    assert (prices["BTC"].usd, prices["BTC"].source) == (Decimal(61000), "okx:BTC-USDT")
    assert prices["ABC"].usd == Decimal("12.2")  # ABC-BTC x BTC-USDT
    assert prices["ABC"].source == "okx:ABC-BTC*BTC-USDT"


async def idle_period_passes(url: str) -> None:
    """Open a silent WebSocket and wait until the sandbox closes it for idling (4004).

    The event that one full idle period has passed, as the sandbox measures it: a silent
    connection opened earlier would have been closed before this one.
    """
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url.replace("http", "ws", 1) + "/ws/v5/public") as ws:
            message = await asyncio.wait_for(ws.receive(), 30)
    assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 4004)


@asynccontextmanager
async def recording(sub: Subscription) -> AsyncIterator[list[Event]]:
    """Every event the subscription gets while the block runs."""
    seen: list[Event] = []

    async def record() -> None:
        async for event in sub:
            seen.append(event)

    task = asyncio.create_task(record())
    try:
        yield seen
    finally:
        await asyncio.sleep(0)  # let the recorder take what is already queued
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_keepalive_pings_keep_an_idle_connection_open(tmp_path: Path) -> None:
    async with sandbox() as url, linked(tmp_path, url) as app, app.bus.subscribe() as sub:
        # as real OKX: a connection silent for the idle time is closed with 4004. The margins
        # are wide (a ping every 0.5 s against 1.5 s) so a loaded machine cannot break them.
        await control(url, "ws/idle", {"seconds": 1.5, "subscribed": True})
        async with recording(sub) as seen, LiveEngine(app, keepalive=0.5, **FAST) as engine:
            await started(engine)
            before = await control(url, "ws")
            await idle_period_passes(url)  # the engine's connections are older than this one
            after = await control(url, "ws")
            assert engine.statuses == {"alice": "live"}
    ids = {c["id"] for c in before["connections"]}
    assert len(ids) == 2 and ids <= {c["id"] for c in after["connections"]}  # the same two
    assert after["opened"] == before["opened"] + 1  # only the silent one was opened since
    assert not [e for e in seen if e.data.get("status") == "reconnecting"]


async def test_without_keepalive_the_idle_close_is_explained(tmp_path: Path) -> None:
    async with sandbox() as url, linked(tmp_path, url) as app, app.bus.subscribe() as sub:
        await control(url, "ws/idle", {"seconds": 0.2, "subscribed": True})
        async with LiveEngine(app, keepalive=30, **FAST):
            drop = await wait_for(sub, status("alice", "reconnecting"))
    assert "close code 4004" in drop.data["error"] and "keepalive" in drop.data["hint"]


async def test_no_account_to_watch_is_an_error_with_a_hint(tmp_path: Path) -> None:
    async with linked(tmp_path, None, ()) as app:
        with pytest.raises(NotFoundError) as raised:
            await LiveEngine(app).run()
    assert "account add" in raised.value.hint
