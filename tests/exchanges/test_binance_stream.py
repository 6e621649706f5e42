"""The Binance balance stream (WebSocket API user data stream) through ccxt.pro, unmocked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from binance_support import BN_READ, binance_state
from exchanges_support import control
from test_exchanges_stream import FAST, Recorder, running

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.errors import ExchangeUnavailableError, InvalidSignatureError
from keyfolio.exchanges.binance import BinanceConnector
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
    async with run_sandbox(parse_state(binance_state()), rate_limit=False) as base:
        yield base


def stream_of(hub: StreamHub, url: str, recorder: Recorder, key: dict[str, str]) -> AccountStream:
    spec = AccountSpec(exchange="binance", name="alice", api_url=url)
    connector = BinanceConnector(spec, Credentials(fields=dict(key)), settings=hub.settings)
    return AccountStream(hub, connector, on_push=recorder, on_status=recorder, backoff=FAST)


async def test_live_once_subscribed_then_a_trade_pushes(url: str, tmp_path: object) -> None:
    recorder = Recorder()
    async with StreamHub(Settings(home=tmp_path)) as hub:
        stream = stream_of(hub, url, recorder, BN_READ)
        assert stream.url == url.replace("http://", "ws://") + "/ws-api/v3"
        async with running(stream.run()):
            assert (await recorder.next(StreamStatus)).status == LIVE  # no push needed
            assert (await recorder.next(AccountPush)).event == "snapshot"  # re-read once
            assert (await control(url, "ws"))["logins"] == 1
            await control(url, "trade",
                          {"account": "alice", "symbol": "BTC-USDT", "side": "sell",
                           "amount": "0.1"})  # fmt: skip
            update = await recorder.next(AccountPush)
    assert update.event == "update" and update.account == "alice"


async def test_a_drop_reconnects_and_subscribes_again(url: str, tmp_path: object) -> None:
    recorder = Recorder()
    async with StreamHub(Settings(home=tmp_path)) as hub:
        async with running(stream_of(hub, url, recorder, BN_READ).run()):
            assert (await recorder.next(StreamStatus)).status == LIVE
            assert (await control(url, "ws/drop", {"code": 1001}))["closed"] == 1
            drop = await recorder.next(StreamStatus)
            assert drop.status == RECONNECTING and isinstance(drop.error, ExchangeUnavailableError)
            assert (await recorder.next(StreamStatus)).status == LIVE
            await control(url, "trade",
                          {"account": "alice", "symbol": "BTC-USDT", "side": "buy",
                           "amount": "0.01"})  # fmt: skip
            while (push := await recorder.next(AccountPush)).event == "snapshot":
                pass
            assert push.event == "update"
            assert (await control(url, "ws"))["logins"] == 2


async def test_a_wrong_secret_stops_the_stream_with_the_binance_code(
    url: str, tmp_path: object
) -> None:
    recorder = Recorder()
    wrong = {**BN_READ, "secret": "wrong-secret-5b1d"}
    async with StreamHub(Settings(home=tmp_path)) as hub:
        with pytest.raises(InvalidSignatureError) as raised:
            await asyncio.wait_for(stream_of(hub, url, recorder, wrong).run(), 10)
    status = await recorder.next(StreamStatus)
    assert status.status == FAILED and status.error is raised.value
    assert raised.value.exchange_code == "-1022"
    assert "wrong-secret-5b1d" not in (status.message or "") + (status.hint or "")
