"""The Bybit balance stream (the private ``wallet`` topic) through ccxt.pro, unmocked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from bybit_support import BY_READ, bybit_state
from exchanges_support import control
from test_exchanges_stream import FAST, Recorder, running

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.errors import ExchangeUnavailableError, KeyRefusedError
from keyfolio.exchanges.bybit import BybitConnector
from keyfolio.exchanges.bybit_stream import private_ws_url
from keyfolio.exchanges.stream import (
    FAILED,
    LIVE,
    RECONNECTING,
    AccountPush,
    AccountStream,
    StreamHub,
    StreamStatus,
)
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues import parse_state


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with run_sandbox(parse_state(bybit_state()), rate_limit=False) as base:
        yield base


def stream_of(hub: StreamHub, url: str, recorder: Recorder, key: dict[str, str]) -> AccountStream:
    spec = AccountSpec(exchange="bybit", name="alice", api_url=url)
    connector = BybitConnector(spec, Credentials(fields=dict(key)), settings=hub.settings)
    return AccountStream(hub, connector, on_push=recorder, on_status=recorder, backoff=FAST)


def test_the_stream_host_follows_the_rest_host() -> None:
    assert private_ws_url(None) == "wss://stream.bybit.com/v5/private"
    assert private_ws_url("https://api.bybit.nl") == "wss://stream.bybit.nl/v5/private"
    assert private_ws_url("https://api-testnet.bybit.com") == (
        "wss://stream-testnet.bybit.com/v5/private"
    )
    assert private_ws_url("http://127.0.0.1:8765") == "ws://127.0.0.1:8765/v5/private"


async def test_live_once_the_subscription_is_acknowledged_then_a_trade_pushes(
    url: str, tmp_path: object
) -> None:
    recorder = Recorder()
    async with StreamHub(Settings(home=tmp_path)) as hub:
        stream = stream_of(hub, url, recorder, BY_READ)
        async with running(stream.run()):
            assert (await recorder.next(StreamStatus)).status == LIVE  # Bybit pushes nothing
            assert (await recorder.next(AccountPush)).event == "snapshot"  # re-read over REST
            state = await control(url, "ws")
            assert state["logins"] == 1 and state["connections"][0]["subs"] == ["wallet"]
            await control(url, "trade", {"account": "alice", "symbol": "BTC-USDT",
                                         "side": "sell", "amount": "0.1"})  # fmt: skip
            update = await recorder.next(AccountPush)
        log = await control(url, "requests")
    assert update.event == "update" and set(update.currencies) == {"BTC", "USDT"}
    assert not [e for e in log if e["path"].startswith("/v5/user/query-api")]  # UTA is known


async def test_a_drop_reconnects_and_subscribes_again(url: str, tmp_path: object) -> None:
    recorder = Recorder()
    async with StreamHub(Settings(home=tmp_path)) as hub:
        async with running(stream_of(hub, url, recorder, BY_READ).run()):
            assert (await recorder.next(StreamStatus)).status == LIVE
            assert (await control(url, "ws/drop", {"code": 1001}))["closed"] == 1
            drop = await recorder.next(StreamStatus)
            assert drop.status == RECONNECTING and isinstance(drop.error, ExchangeUnavailableError)
            assert (await recorder.next(StreamStatus)).status == LIVE
            await control(url, "trade", {"account": "alice", "symbol": "BTC-USDT", "side": "buy",
                                         "amount": "0.01"})  # fmt: skip
            while (push := await recorder.next(AccountPush)).event == "snapshot":
                pass
            assert push.event == "update"
            assert (await control(url, "ws"))["logins"] == 2


async def test_a_refused_login_stops_the_stream_with_bybit_words(
    url: str, tmp_path: object
) -> None:
    recorder = Recorder()
    wrong = {**BY_READ, "secret": "wrong-secret-5b1d"}
    async with StreamHub(Settings(home=tmp_path)) as hub:
        with pytest.raises(KeyRefusedError) as raised:
            await asyncio.wait_for(stream_of(hub, url, recorder, wrong).run(), 10)
    status = await recorder.next(StreamStatus)
    assert status.status == FAILED and status.error is raised.value
    assert raised.value.exchange_code == "USVC1111" and "doctor" in (status.hint or "")
    assert "wrong-secret-5b1d" not in (status.message or "") + (status.hint or "")
