"""The Kraken balance stream (WebSocket v2 ``balances`` with a REST token) through ccxt.pro."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from exchanges_support import control
from kraken_support import KR_BOB, KR_READ, kraken_state
from test_exchanges_stream import FAST, Recorder, running

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.errors import ExchangeUnavailableError, InvalidSignatureError
from keyfolio.exchanges.kraken import KrakenConnector
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
    async with run_sandbox(parse_state(kraken_state()), rate_limit=False) as base:
        yield base


def stream_of(hub: StreamHub, url: str, recorder: Recorder, key: dict[str, str]) -> AccountStream:
    spec = AccountSpec(exchange="kraken", name="bob", api_url=url)
    connector = KrakenConnector(spec, Credentials(fields=dict(key)), settings=hub.settings)
    return AccountStream(hub, connector, on_push=recorder, on_status=recorder, backoff=FAST)


async def test_the_snapshot_makes_it_live_then_a_trade_pushes(url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    async with StreamHub(Settings(home=tmp_path)) as hub:
        stream = stream_of(hub, url, recorder, KR_BOB)
        assert stream.url == url.replace("http://", "ws://") + "/v2"
        async with running(stream.run()):
            assert (await recorder.next(StreamStatus)).status == LIVE
            assert (await recorder.next(AccountPush)).event == "snapshot"
            sold = {"account": "bob", "symbol": "BTC-USD", "side": "sell", "amount": "0.1"}
            await control(url, "trade", sold)
            update = await recorder.next(AccountPush)
            log = await control(url, "requests")
    assert update.event == "update" and set(update.currencies) == {"BTC", "USD"}
    [token] = [e for e in log if e["path"] == "/0/private/GetWebSocketsToken"]
    assert token["code"] == "0" and int(token["nonce"]) > 0  # through the key's gate


async def test_a_drop_reconnects_and_subscribes_again(url: str, tmp_path: Path) -> None:
    recorder = Recorder()
    async with StreamHub(Settings(home=tmp_path)) as hub:
        async with running(stream_of(hub, url, recorder, KR_BOB).run()):
            assert (await recorder.next(StreamStatus)).status == LIVE
            assert (await control(url, "ws/drop", {"code": 1001}))["closed"] == 1
            drop = await recorder.next(StreamStatus)
            assert drop.status == RECONNECTING and isinstance(drop.error, ExchangeUnavailableError)
            assert (await recorder.next(StreamStatus)).status == LIVE
            assert (await control(url, "ws"))["logins"] == 2


async def test_a_wrong_private_key_stops_the_stream_with_kraken_words(
    url: str, tmp_path: Path
) -> None:
    recorder = Recorder()
    wrong = {**KR_BOB, "secret": KR_READ["secret"]}
    async with StreamHub(Settings(home=tmp_path)) as hub:
        with pytest.raises(InvalidSignatureError) as raised:
            await asyncio.wait_for(stream_of(hub, url, recorder, wrong).run(), 10)
    status = await recorder.next(StreamStatus)
    assert status.status == FAILED and status.error is raised.value
    assert raised.value.exchange_code == "EAPI:Invalid signature"
    assert KR_READ["secret"] not in (status.message or "") + (status.hint or "")
