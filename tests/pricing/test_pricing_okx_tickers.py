"""fetch_spot_tickers against a real aiohttp server on 127.0.0.1 (no mocks).

``okx_tickers_spot.json`` is an OKX ``/api/v5/market/tickers?instType=SPOT`` body: the BTC-USDT
row is OKX's recorded answer (from ccxt's static okx fixtures); the other rows have the same
shape with invented values, chosen to exercise every pricing route.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from keyfolio.errors import PricingError
from keyfolio.pricing import Ticker, fetch_spot_tickers, price_assets, value_of

BODY = (Path(__file__).parent / "okx_tickers_spot.json").read_bytes()


@dataclass
class Stub:
    """What the stub OKX answers, and what it was asked."""

    status: int = 200
    body: bytes = BODY
    content_type: str = "application/json"
    hang: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[web.Request] = field(default_factory=list)
    base_url: str = ""
    host: str = ""


@pytest.fixture
async def okx() -> AsyncIterator[Stub]:
    stub = Stub()

    async def tickers(request: web.Request) -> web.Response:
        stub.requests.append(request)
        if stub.hang:
            await stub.release.wait()
        return web.Response(status=stub.status, body=stub.body, content_type=stub.content_type)

    app = web.Application()
    app.router.add_get("/api/v5/market/tickers", tickers)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    stub.host = f"{host}:{port}"
    stub.base_url = f"http://{stub.host}"
    try:
        yield stub
    finally:
        stub.release.set()
        await runner.cleanup()


def envelope(rows: list[object], code: str = "0", msg: str = "") -> bytes:
    return json.dumps({"code": code, "msg": msg, "data": rows}).encode()


def row(inst_id: str, last: object, open24h: object = "", ts: object = "1710328243709") -> dict:
    return {"instType": "SPOT", "instId": inst_id, "last": last, "open24h": open24h, "ts": ts}


async def test_parses_a_real_body_with_one_request(okx: Stub) -> None:
    tickers = await fetch_spot_tickers(okx.base_url)
    assert len(okx.requests) == 1
    request = okx.requests[0]
    assert request.path == "/api/v5/market/tickers"
    assert dict(request.query) == {"instType": "SPOT"}
    assert "x-simulated-trading" not in request.headers

    assert tickers["BTC-USDT"] == Ticker(
        inst_id="BTC-USDT",
        last=Decimal("73384.8"),
        open24h=Decimal("72166.8"),
        ts=datetime(2024, 3, 13, 11, 10, 43, 709000, tzinfo=UTC),
    )
    assert tickers["XYZ-USDC"].last == Decimal("0.000012345678")
    assert tickers["DEAD-USDT"].last == Decimal(0)
    assert tickers["DEAD-USDT"].open24h is None
    assert len(tickers) == len(json.loads(BODY)["data"])
    for ticker in tickers.values():
        assert type(ticker.last) is Decimal
        assert ticker.open24h is None or type(ticker.open24h) is Decimal


async def test_sync_flow_prices_every_asset_from_one_request(okx: Stub) -> None:
    now = datetime(2024, 3, 13, 12, 0, tzinfo=UTC)
    tickers = await fetch_spot_tickers(okx.base_url + "/")
    prices = price_assets(["BTC", "ETH", "USDT", "XYZ", "ABC", "DEAD", "NOPE"], tickers, as_of=now)
    assert len(okx.requests) == 1
    assert {a: p.source if p else None for a, p in prices.items()} == {
        "BTC": "okx:BTC-USDT",
        "ETH": "okx:ETH-USDT",
        "USDT": "par",
        "XYZ": "okx:XYZ-USDC",
        "ABC": "okx:ABC-BTC*BTC-USDT",
        "DEAD": None,
        "NOPE": None,
    }
    abc = prices["ABC"]
    assert abc is not None
    assert abc.usd == Decimal("0.00000321") * Decimal("73384.8")
    assert abc.open24h_usd == Decimal("0.0000033") * Decimal("72166.8")
    assert value_of(Decimal("0.5"), prices["BTC"]) == Decimal("36692.40")


async def test_demo_sends_the_simulated_trading_header(okx: Stub) -> None:
    await fetch_spot_tickers(okx.base_url, demo=True)
    assert okx.requests[0].headers["x-simulated-trading"] == "1"


async def test_uses_a_given_client_without_closing_it(okx: Stub) -> None:
    async with httpx.AsyncClient() as client:
        tickers = await fetch_spot_tickers(okx.base_url, client=client)
        assert not client.is_closed
        assert "ETH-BTC" in tickers


@pytest.mark.parametrize("status", [200, 429])
async def test_okx_error_code(okx: Stub, status: int) -> None:
    okx.status = status
    okx.body = envelope([], code="50011", msg="Too Many Requests")
    with pytest.raises(PricingError) as info:
        await fetch_spot_tickers(okx.base_url)
    message = str(info.value)
    assert okx.host in message
    assert "50011" in message and "Too Many Requests" in message
    assert "rate limiting" in info.value.hint


async def test_http_500_with_text_body(okx: Stub) -> None:
    okx.status = 500
    okx.body = b"Internal Server Error"
    okx.content_type = "text/plain"
    with pytest.raises(PricingError) as info:
        await fetch_spot_tickers(okx.base_url)
    assert okx.host in str(info.value)
    assert "HTTP 500" in str(info.value)
    assert info.value.hint


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"code":"0","data":[{"instId":', id="cut-json"),
        pytest.param(b"<html>maintenance</html>", id="html"),
        pytest.param(b"\xff\xfe\x00", id="binary"),
        pytest.param(b'{"code":"0","msg":""}', id="no-data"),
        pytest.param(b'{"code":"0","data":{}}', id="data-not-list"),
        pytest.param(b"[1, 2]", id="not-an-envelope"),
    ],
)
async def test_malformed_answer(okx: Stub, body: bytes) -> None:
    okx.body = body
    with pytest.raises(PricingError) as info:
        await fetch_spot_tickers(okx.base_url)
    assert okx.host in str(info.value)
    assert info.value.hint


async def test_unreadable_rows_are_skipped_never_floated(
    okx: Stub, caplog: pytest.LogCaptureFixture
) -> None:
    okx.body = (
        b'{"code":"0","msg":"","data":['
        b'{"instType":"SPOT","instId":"FLT-USDT","last":1.1,"open24h":"1","ts":"1"},'
        + json.dumps(
            [
                row("GOOD-USDT", "2.5", "2"),
                row("BADTS-USDT", "1", ts="soon"),
                row("NEG-USDT", "-1"),
                row("NAN-USDT", "NaN"),
                row("TEXT-USDT", "abc"),
                {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "last": "1", "ts": "1"},
                {"last": "1", "ts": "1"},
                "not a row",
            ]
        ).encode()[1:]
        + b"}"
    )
    caplog.set_level(logging.WARNING, logger="keyfolio.pricing")
    tickers = await fetch_spot_tickers(okx.base_url)
    assert list(tickers) == ["GOOD-USDT"]
    assert tickers["GOOD-USDT"].last == Decimal("2.5")
    assert "skipped 8 unreadable ticker rows" in caplog.text


async def test_network_failure_names_the_host() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # The port is closed again: the connection is refused.
    with pytest.raises(PricingError) as info:
        await fetch_spot_tickers(f"http://127.0.0.1:{port}", timeout=5)
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "network" in info.value.hint.lower()


async def test_timeout_names_the_host(okx: Stub) -> None:
    okx.hang = True
    with pytest.raises(PricingError) as info:
        await fetch_spot_tickers(okx.base_url, timeout=0.05)
    assert okx.host in str(info.value)
    assert "0.05 s" in str(info.value)


@pytest.mark.parametrize("url", ["ftp://www.okx.com", "www.okx.com", "", "https://"])
async def test_bad_base_url(url: str) -> None:
    with pytest.raises(PricingError) as info:
        await fetch_spot_tickers(url)
    assert "https://www.okx.com" in info.value.hint
