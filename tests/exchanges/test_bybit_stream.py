"""The Bybit balance stream (the private ``wallet`` topic) through ccxt.pro, unmocked."""

from __future__ import annotations

from bybit_support import BY_READ
from connector_support import BYBIT
from exchanges_support import control
from stream_support import Recorder, running

from keyfolio.config import Settings
from keyfolio.exchanges.bybit_stream import private_ws_url
from keyfolio.exchanges.stream import LIVE, AccountPush, StreamHub, StreamStatus


def test_the_stream_host_follows_the_rest_host() -> None:
    assert private_ws_url(None) == "wss://stream.bybit.com/v5/private"
    assert private_ws_url("https://api.bybit.nl") == "wss://stream.bybit.nl/v5/private"
    assert private_ws_url("https://api-testnet.bybit.com") == (
        "wss://stream-testnet.bybit.com/v5/private"
    )
    assert private_ws_url("http://127.0.0.1:8765") == "ws://127.0.0.1:8765/v5/private"


async def test_live_once_the_subscription_is_acknowledged_then_a_trade_pushes(
    tmp_path: object,
) -> None:
    recorder = Recorder()
    async with BYBIT.sandbox() as url, StreamHub(Settings(home=tmp_path)) as hub:
        stream = BYBIT.stream(hub, url, recorder, BY_READ)
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
