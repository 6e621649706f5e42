"""ccxt.pro streams against the real sandbox: account pushes, tickers, drops, auth errors."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from exchanges_support import BASE_STATE, alice_credentials, control, make_state, sandbox, spec_for
from stream_support import FAST, Recorder, running

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials, Region
from keyfolio.errors import (
    ExchangeUnavailableError,
    InvalidSignatureError,
    KeyNotInRegionError,
    WrongPassphraseError,
)
from keyfolio.exchanges.okx import OkxConnector, ws_url_for
from keyfolio.exchanges.okx_stream import OkxTickerStream
from keyfolio.exchanges.stream import (
    FAILED,
    LIVE,
    RECONNECTING,
    AccountPush,
    AccountStream,
    Backoff,
    StreamHub,
    StreamStatus,
    TickerPush,
)


def ws_of(url: str) -> str:
    return ws_url_for(Region.GLOBAL, url)


def account_stream(
    hub: StreamHub, url: str, recorder: Recorder, credentials: Credentials | None = None
) -> AccountStream:
    connector = OkxConnector(
        spec_for(url), credentials or alice_credentials(), settings=hub.settings
    )
    return AccountStream(hub, connector, on_push=recorder, on_status=recorder, backoff=FAST)


def test_backoff_grows_is_capped_and_jittered() -> None:
    backoff = Backoff(base=1.0, cap=30.0, jitter=0.5)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (3, 8.0), (10, 30.0), (100, 30.0)]:
        delays = {backoff.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, delays)
        assert len(delays) > 1  # jittered, so clients spread out
    assert Backoff(base=0.5, jitter=0.0).delay(2) == 2.0


def test_demo_and_regional_ws_hosts(settings: Settings) -> None:
    def url(region: Region, demo: bool, api_url: str | None = None) -> str:
        spec = AccountSpec(exchange="okx", name="x", region=region, demo=demo, api_url=api_url)
        return OkxConnector(spec, alice_credentials(), settings=settings).ws_url

    assert url(Region.EEA, False) == "wss://wseea.okx.com:8443/ws/v5"
    assert url(Region.US, False) == "wss://wsus.okx.com:8443/ws/v5"
    assert url(Region.GLOBAL, True) == "wss://wspap.okx.com:8443/ws/v5"
    assert url(Region.EEA, True) == "wss://wseeapap.okx.com:8443/ws/v5"
    assert url(Region.EEA, True, "http://127.0.0.1:9") == "ws://127.0.0.1:9/ws/v5"


async def test_account_stream_snapshot_then_trade_push(settings: Settings) -> None:
    recorder = Recorder()
    async with sandbox(BASE_STATE) as url, StreamHub(settings) as hub:
        stream = account_stream(hub, url, recorder)
        assert stream.url == ws_of(url) + "/private"
        async with running(stream.run()):
            live = await recorder.next(StreamStatus)
            assert (live.status, live.error) == (LIVE, None)
            snapshot = await recorder.next(AccountPush)
            assert snapshot.event == "snapshot" and set(snapshot.currencies) == {"BTC", "USDT"}
            await control(
                url,
                "trade",
                {"account": "alice", "instId": "BTC-USDT", "side": "buy", "sz": "0.01"},
            )
            update = await recorder.next(AccountPush)
    assert update.event == "event_update" and set(update.currencies) == {"BTC", "USDT"}
    assert update.account == "alice"


async def test_drop_is_reported_with_a_hint_then_reconnects(settings: Settings) -> None:
    recorder = Recorder()
    async with sandbox(BASE_STATE) as url, StreamHub(settings) as hub:
        async with running(account_stream(hub, url, recorder).run()):
            assert (await recorder.next(StreamStatus)).status == LIVE
            await recorder.next(AccountPush)
            assert (await control(url, "ws/drop", {"code": 4004}))["closed"] == 1
            drop = await recorder.next(StreamStatus)
            assert drop.status == RECONNECTING and drop.attempt == 1
            assert isinstance(drop.error, ExchangeUnavailableError)
            assert "close code 4004" in (drop.message or "")
            assert "keepalive" in (drop.hint or "")
            assert drop.retry_in is not None and 0 < drop.retry_in <= 0.02
            again = await recorder.next(StreamStatus)
            assert again.status == LIVE
            assert (await recorder.next(AccountPush)).event == "snapshot"  # after the reconnect
            await control(
                url,
                "trade",
                {"account": "alice", "instId": "BTC-USDT", "side": "sell", "sz": "0.1"},
            )
            assert (await recorder.next(AccountPush)).event == "event_update"
            state = await control(url, "ws")
    assert state["logins"] == 2 and len(state["connections"]) == 1


@pytest.mark.parametrize(
    ("credentials", "error", "words"),
    [
        (alice_credentials(password="Bad-Pass-7f3e"), WrongPassphraseError, "passphrase"),
        (alice_credentials(secret="bad-secret-91ac"), InvalidSignatureError, "secret"),
    ],
)
async def test_auth_failure_stops_the_stream_with_a_hint(
    settings: Settings, credentials: Credentials, error: type[Exception], words: str
) -> None:
    recorder = Recorder()
    async with sandbox(BASE_STATE) as url, StreamHub(settings) as hub:
        with pytest.raises(error) as raised:
            await asyncio.wait_for(account_stream(hub, url, recorder, credentials).run(), 30)
    status = await recorder.next(StreamStatus)
    assert status.status == FAILED and status.error is raised.value
    assert words in (status.message or "").lower() + (status.hint or "").lower()
    assert status.hint
    for secret in credentials.secrets():
        assert secret not in (status.message or "") + (status.hint or "")


async def test_key_of_another_region_names_the_host(settings: Settings) -> None:
    recorder = Recorder()
    async with sandbox(make_state(region="eea")) as url, StreamHub(settings) as hub:
        with pytest.raises(KeyNotInRegionError) as raised:
            await asyncio.wait_for(account_stream(hub, url, recorder).run(), 30)
    assert raised.value.exchange_code == "60032"
    assert url.removeprefix("http://") in raised.value.hint and "--region" in raised.value.hint


async def test_ticker_stream_follows_a_changing_set(settings: Settings) -> None:
    recorder = Recorder()
    async with sandbox(BASE_STATE) as url, StreamHub(settings) as hub:
        stream = OkxTickerStream(
            hub, ws_url=ws_of(url), rest_url=url, on_tick=recorder, on_status=recorder, backoff=FAST
        )
        async with running(stream.run()):
            stream.watch({"BTC-USDT", "NOPE-USDT"})  # an unknown market is skipped
            first = await recorder.next(TickerPush)
            assert (first.symbol, first.last) == ("BTC-USDT", Decimal("60000"))
            assert (await recorder.next(StreamStatus)).status == LIVE
            await control(url, "tickers", {"BTC-USDT": {"last": "61000.5"}})
            tick = await recorder.next(TickerPush)
            assert (tick.symbol, tick.last) == ("BTC-USDT", Decimal("61000.5"))
            assert isinstance(tick.last, Decimal)
            stream.watch({"ETH-USDT"})
            eth = await recorder.next(TickerPush)
            assert (eth.symbol, eth.last) == ("ETH-USDT", Decimal("3000"))
            assert stream.instruments == {"ETH-USDT"}
