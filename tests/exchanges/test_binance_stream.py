"""The Binance balance stream (WebSocket API user data stream) through ccxt.pro, unmocked."""

from __future__ import annotations

from binance_support import BN_READ
from connector_support import BINANCE
from exchanges_support import control
from stream_support import Recorder, running

from keyfolio.config import Settings
from keyfolio.exchanges.stream import LIVE, AccountPush, StreamHub, StreamStatus


async def test_live_once_subscribed_then_a_trade_pushes(tmp_path: object) -> None:
    recorder = Recorder()
    async with BINANCE.sandbox() as url, StreamHub(Settings(home=tmp_path)) as hub:
        stream = BINANCE.stream(hub, url, recorder, BN_READ)
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
