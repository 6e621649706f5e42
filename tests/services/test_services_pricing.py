"""Prices from the sandbox's tickers: stablecoins from their markets, prices with their ticker time.

Real sandbox OKX on loopback, real sync (balances, one ticker request, prices), real SQLite.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from services_support import linked_app, okx_fields

from keyfolio.config import Settings
from keyfolio.services.context import App
from keyfolio.services.summary import portfolio_summary
from keyfolio.services.sync import sync_accounts
from keyfolio.services.view import portfolio_view

PASSWORD = "pw-services-pricing-41f"
KEY = {"apiKey": "price-key-1a2b", "secret": "price-secret-3c4d", "passphrase": "price-pass-5e"}


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    state: dict[str, Any] = {
        "tickers": {
            "BTC-USDT": {"last": "60000", "open24h": "60000"},
            "USDC-USDT": {"last": "1", "open24h": "1"},
        },
        "keys": [{**KEY, "perm": "read_only", "account": "alice"}],
        "accounts": {
            "alice": {
                "trading": {"BTC": "0.1", "USDT": "500"},
                "funding": {"USDC": "1000"},
            }
        },
    }
    with SandboxThread(parse_state(state), rate_limit=False) as server:
        yield server.url


def control(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + path, data=data, method="GET" if body is None else "POST"
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def app(tmp_path: Path, sandbox_url: str) -> Iterator[App]:
    settings = Settings(home=tmp_path, retries=1)
    app = linked_app(settings, PASSWORD, "okx", sandbox_url, okx_fields(KEY))
    yield app
    app.close()


def ticker_requests(url: str) -> int:
    log = control(url, "/__sandbox__/requests")
    return sum(1 for row in log if row["path"].startswith("/api/v5/market/tickers?"))


async def test_a_usdc_depeg_moves_the_total(app: App, sandbox_url: str) -> None:
    await sync_accounts(app, history=False)
    before = portfolio_view(app)
    assert before.total_value == Decimal(7500)  # 6000 + 500 + 1000
    usdc = {h.asset: h for h in before.holdings}["USDC"]
    assert usdc.price is not None and usdc.price.source == "okx:USDC-USDT"
    assert before.at_par == ["USDT"]  # no USDT-USD market on the linked venue

    control(sandbox_url, "/__sandbox__/tickers", {"USDC-USDT": {"last": "0.87"}})
    control(sandbox_url, "/__sandbox__/reset-log", {})
    await sync_accounts(app, history=False)
    after = portfolio_view(app)
    assert after.total_value == Decimal(7370)  # USDC at 0.87: 130 less
    held = {h.asset: h for h in after.holdings}
    assert held["USDC"].price is not None and held["USDC"].price.usd == Decimal("0.87")
    assert held["USDC"].value == Decimal("870.00")
    assert ticker_requests(sandbox_url) == 1  # still one ticker request per venue per sync


async def test_a_usdt_usd_market_prices_usdt_and_everything_quoted_in_it(
    app: App, sandbox_url: str
) -> None:
    control(
        sandbox_url,
        "/__sandbox__/tickers",
        {"USDT-USD": {"last": "0.99", "open24h": "1"}, "USDC-USDT": {"last": "0.87"}},
    )
    await sync_accounts(app, history=False)
    view = portfolio_view(app)
    prices = {h.asset: h.price for h in view.holdings}
    assert all(price is not None for price in prices.values())
    assert (prices["USDT"].usd, prices["USDT"].source) == (Decimal("0.99"), "okx:USDT-USD")
    assert (prices["USDC"].usd, prices["USDC"].source) == (
        Decimal("0.8613"),
        "okx:USDC-USDT*USDT-USD",
    )
    assert (prices["BTC"].usd, prices["BTC"].source) == (
        Decimal("59400"),
        "okx:BTC-USDT*USDT-USD",
    )
    assert view.at_par == []
    assert view.total_value == Decimal("7296.3")  # 5940 + 495 + 861.3


async def test_prices_carry_their_ticker_time_and_go_stale(app: App, sandbox_url: str) -> None:
    await sync_accounts(app, history=False)
    market = control(sandbox_url, "/api/v5/market/ticker?instId=BTC-USDT")["data"][0]
    view = portfolio_view(app)
    btc = {h.asset: h for h in view.holdings}["BTC"]
    assert btc.price is not None
    assert round(btc.price.as_of.timestamp() * 1000) == int(market["ts"])  # the venue's own ts
    summary = portfolio_summary(app)
    row = next(row for row in summary["holdings"] if row["asset"] == "BTC")
    assert row["price_stale"] is False and summary["stale_prices"] == []
    late = portfolio_view(app, now=btc.price.as_of + timedelta(minutes=61))
    assert "BTC" in late.stale_prices and late.has_stale_prices
