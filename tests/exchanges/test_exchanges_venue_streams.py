"""What the Binance, Bybit and Kraken balance streams do alike, through ccxt.pro, unmocked: a
drop reconnects and logs in again; a key the venue refuses stops the stream with the venue's
own code, and the wrong secret is nowhere in its words."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from binance_support import BN_READ
from bybit_support import BY_READ
from connector_support import BINANCE, BYBIT, KRAKEN, Venue
from exchanges_support import control
from kraken_support import KR_BOB, KR_READ
from stream_support import Recorder, running

from keyfolio.config import Settings
from keyfolio.errors import (
    ExchangeError,
    ExchangeUnavailableError,
    InvalidSignatureError,
    KeyRefusedError,
)
from keyfolio.exchanges.stream import (
    FAILED,
    LIVE,
    RECONNECTING,
    AccountPush,
    StreamHub,
    StreamStatus,
)

BOUGHT = {"account": "alice", "symbol": "BTC-USDT", "side": "buy", "amount": "0.01"}


@pytest.mark.parametrize(
    ("venue", "key", "trade"),
    [
        pytest.param(BINANCE, BN_READ, BOUGHT, id="binance"),
        pytest.param(BYBIT, BY_READ, BOUGHT, id="bybit"),
        pytest.param(KRAKEN, KR_BOB, None, id="kraken"),  # its trade push: test_kraken_stream
    ],
)
async def test_a_drop_reconnects_and_subscribes_again(
    venue: Venue[Any], key: dict[str, str], trade: dict[str, str] | None, tmp_path: Path
) -> None:
    recorder = Recorder()
    async with venue.sandbox() as url, StreamHub(Settings(home=tmp_path)) as hub:
        async with running(venue.stream(hub, url, recorder, key).run()):
            assert (await recorder.next(StreamStatus)).status == LIVE
            assert (await control(url, "ws/drop", {"code": 1001}))["closed"] == 1
            drop = await recorder.next(StreamStatus)
            assert drop.status == RECONNECTING and isinstance(drop.error, ExchangeUnavailableError)
            assert (await recorder.next(StreamStatus)).status == LIVE
            if trade is not None:
                await control(url, "trade", trade)
                while (push := await recorder.next(AccountPush)).event == "snapshot":
                    pass
                assert push.event == "update"
            assert (await control(url, "ws"))["logins"] == 2


@pytest.mark.parametrize(
    ("venue", "wrong", "error", "code", "hint_words"),
    [
        pytest.param(
            BINANCE, {**BN_READ, "secret": "wrong-secret-5b1d"}, InvalidSignatureError, "-1022",
            None, id="binance-wrong-secret",
        ),
        pytest.param(
            BYBIT, {**BY_READ, "secret": "wrong-secret-5b1d"}, KeyRefusedError, "USVC1111",
            "doctor", id="bybit-refused-login",
        ),
        pytest.param(
            KRAKEN, {**KR_BOB, "secret": KR_READ["secret"]}, InvalidSignatureError,
            "EAPI:Invalid signature", None, id="kraken-wrong-private-key",
        ),
    ],
)  # fmt: skip
async def test_a_refused_key_stops_the_stream_with_the_venue_code(
    venue: Venue[Any],
    wrong: dict[str, str],
    error: type[ExchangeError],
    code: str,
    hint_words: str | None,
    tmp_path: Path,
) -> None:
    recorder = Recorder()
    async with venue.sandbox() as url, StreamHub(Settings(home=tmp_path)) as hub:
        with pytest.raises(error) as raised:
            await asyncio.wait_for(venue.stream(hub, url, recorder, wrong).run(), 10)
    status = await recorder.next(StreamStatus)
    assert status.status == FAILED and status.error is raised.value
    assert raised.value.exchange_code == code
    if hint_words is not None:
        assert hint_words in (status.hint or "")
    assert wrong["secret"] not in (status.message or "") + (status.hint or "")
