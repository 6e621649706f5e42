"""A close that is cancelled halfway still closes everything, then raises the cancellation.

`keyfolio watch` stops on Ctrl-C by cancelling the live engine; its price refresh closes a
connector pool after every poll, so the cancellation can arrive while a pool is closing. Each
test cancels a close at every point where it waits (the ``step``-th turn of the event loop),
until the close is over before the cancellation, and checks what that close must release: the
aiohttp session (else "Unclosed client session") and every ccxt client's hold on it (else
ccxt's "requires to release all resources").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from connector_support import COINBASE
from exchanges_support import BASE_STATE, sandbox
from stream_support import FAST, Recorder, running

from keyfolio.config import Settings
from keyfolio.domain.accounts import Credentials, Region
from keyfolio.exchanges.okx import ws_url_for
from keyfolio.exchanges.okx_stream import OkxTickerStream
from keyfolio.exchanges.pool import ConnectorPool
from keyfolio.exchanges.stream import StreamHub, TickerPush

url = COINBASE.url_fixture()

MAX_STEPS = 200  # a close waits a few dozen times at most


async def cancelled_at(close: Callable[[], Awaitable[None]], step: int) -> bool:
    """Run ``close()`` in a task for ``step`` turns of the loop (at least one: a close starts in
    the caller's task), then cancel it. True if the cancellation reached it while it was still
    closing (it must end with that cancellation), False if it had finished."""
    assert step >= 1
    task = asyncio.ensure_future(close())
    for _ in range(step):
        await asyncio.sleep(0)
    if task.done():
        await task
        return False
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return True


async def test_a_pool_cancelled_while_closing_closes_its_clients_and_session(
    url: str, settings: Settings
) -> None:
    for step in range(1, MAX_STEPS):
        pool = await ConnectorPool(settings, retry_base_delay=0.01).__aenter__()
        private = COINBASE.pooled(pool, url)  # the watched account, read by each poll
        public = pool.public_connector(COINBASE.spec(url))  # the price refresh's tickers
        await private.fetch_balances()
        assert await public.fetch_spot_tickers()  # type: ignore[attr-defined]
        clients = [private._client(), public._client()]  # type: ignore[attr-defined]
        session = pool._session
        assert session is not None and all(c.session is session for c in clients)
        hit = await cancelled_at(pool.close, step)
        assert session.closed, f"cancelled at step {step}: the pool's session is open"
        assert [c.session for c in clients] == [None, None], f"cancelled at step {step}"
        assert pool.clients.constructed == 0  # the templates let go of the session too
        if not hit:
            break
    else:
        pytest.fail(f"the pool was still closing after {MAX_STEPS} turns of the loop")
    assert step > 2  # the cancellations did land inside the close


async def test_a_connector_cancelled_while_closing_closes_its_own_session(
    url: str, settings: Settings
) -> None:
    for step in (1, 2, 3):  # ccxt then waits out its own session's drain (250 ms): a timer
        credentials = Credentials(fields=dict(COINBASE.read_key))
        connector = COINBASE.connector(COINBASE.spec(url), credentials, settings=settings)
        await connector.fetch_balances()
        client = connector._client()
        session = client.session  # no pool: ccxt made a session of its own
        assert session is not None and client.own_session
        assert await cancelled_at(connector.close, step)
        assert session.closed, f"cancelled at step {step}: ccxt's session is open"
        assert client.session is None, f"cancelled at step {step}"


async def test_a_stream_hub_cancelled_while_closing_closes_its_clients_and_session(
    settings: Settings,
) -> None:
    async with sandbox(BASE_STATE) as okx_url:
        for step in range(1, MAX_STEPS):
            hub = await StreamHub(settings).__aenter__()
            recorder = Recorder()
            stream = OkxTickerStream(
                hub,
                ws_url=ws_url_for(Region.GLOBAL, okx_url),
                rest_url=okx_url,
                on_tick=recorder,
                on_status=recorder,
                backoff=FAST,
            )
            async with running(stream.run()):
                stream.watch({"BTC-USDT"})
                assert (await recorder.next(TickerPush)).last == Decimal("60000")
                clients: list[Any] = list(hub._clients)  # the ticker stream's, connected
                session = hub._session
                assert session is not None and clients
                hit = await cancelled_at(hub.close, step)
                assert session.closed, f"cancelled at step {step}: the hub's session is open"
                assert [c.session for c in clients] == [None] * len(clients), step
            if not hit:
                break
        else:
            pytest.fail(f"the hub was still closing after {MAX_STEPS} turns of the loop")
    assert step > 1
