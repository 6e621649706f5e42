"""The Kraken balance stream (WebSocket v2 ``balances`` with a REST token) through ccxt.pro."""

from __future__ import annotations

from pathlib import Path

from connector_support import KRAKEN
from exchanges_support import control
from kraken_support import KR_BOB
from stream_support import Recorder, running

from keyfolio.config import Settings
from keyfolio.exchanges.stream import LIVE, AccountPush, StreamHub, StreamStatus


async def test_the_snapshot_makes_it_live_then_a_trade_pushes(tmp_path: Path) -> None:
    recorder = Recorder()
    async with KRAKEN.sandbox() as url, StreamHub(Settings(home=tmp_path)) as hub:
        stream = KRAKEN.stream(hub, url, recorder, KR_BOB)
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
