"""The overview's numbers in Chromium: the balance check, the P/L basis flag, a stablecoin depeg,
prices at par and old prices. Real server (polling, no live engine: prices change only when the
test syncs or writes them), real sandbox OKX.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect
from web_support import PASSWORD, READ_KEY, base_state, link_body, post

pytestmark = pytest.mark.browser

DAY = 86_400_000
TS = (int(time.time() * 1000) // DAY - 60) * DAY  # 60 days ago: in OKX's 3-month windows


@pytest.fixture
def sandbox() -> Iterator[str]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    state = base_state()
    state["tickers"]["USDC-USDT"] = {"last": "1"}
    alice = state["accounts"]["alice"]
    alice["funding"]["USDC"] = "1000"
    # alice holds 0.5 BTC; the history has one deposit of 0.2 BTC: 0.3 is unexplained
    alice["deposits"] = [{"ccy": "BTC", "amt": "0.2", "ts": str(TS)}]
    with SandboxThread(parse_state(state), rate_limit=False) as server:
        yield server.url


@pytest.fixture
def server(settings: Any) -> Iterator[str]:
    from keyfolio.api.server import ServerThread

    with ServerThread(settings, password=PASSWORD, live=False) as running:
        yield running.url


def test_the_balance_check_explains_the_unknown_basis(page: Any, server: str, sandbox: str) -> None:
    assert post(server + "/api/v1/accounts", link_body("alice", READ_KEY, sandbox))["sync"]
    page.goto(server + "/")
    expect(page.locator("#total")).to_have_text("$40,670.00")
    row = page.locator("#reconcile-table tr[data-asset=BTC]")
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text("+0.3")
    expect(row.locator("td.cause")).to_have_attribute("data-cause", "history_before_window")
    expect(row.locator("td.cause")).to_contain_text("History before the window")
    expect(row.locator("td.cause")).to_have_attribute("title", re.compile("a deposit the import"))
    expect(page.locator("#reconcile-count")).to_contain_text("not explained")
    flag = page.locator("#basis-link")
    expect(flag).to_be_visible()
    expect(flag).to_contain_text("Unknown cost basis")
    expect(flag).to_contain_text("BTC")
    flag.click()
    expect(page).to_have_url(server + "/#reconcile")
    expect(page.locator("#reconcile")).to_be_in_viewport()


def test_the_balance_check_follows_a_sync(page: Any, server: str, sandbox: str) -> None:
    post(server + "/api/v1/accounts", link_body("alice", READ_KEY, sandbox))
    page.goto(server + "/")
    btc = page.locator("#reconcile-table tr[data-asset=BTC]")
    expect(btc).to_contain_text("+0.3")
    count = page.locator("#reconcile-count")
    expect(count).to_contain_text("not explained")
    before = count.text_content() or ""
    (unexplained, _, balances) = before.partition(" of ")

    # the exchange now reports the 0.2 BTC the history implies: the sync's event redraws it
    post(sandbox + "/__sandbox__/balances", {"account": "alice", "source": "trading",
                                            "asset": "BTC", "amount": "0.2"})  # fmt: skip
    post(server + "/api/v1/sync", {"accounts": None})
    expect(btc).to_have_count(0)
    expect(count).to_have_text(f"{int(unexplained) - 1} of {balances}")


def test_a_depeg_moves_the_total_and_prices_say_where_they_come_from(
    page: Any, server: str, sandbox: str, settings: Any
) -> None:
    from keyfolio.domain.records import Price
    from keyfolio.services.context import App

    post(server + "/api/v1/accounts", link_body("alice", READ_KEY, sandbox))
    page.goto(server + "/")
    expect(page.locator("#total")).to_have_text("$40,670.00")
    usdt = page.locator("tr.holding[data-asset=USDT]")
    expect(usdt.locator(".marks")).to_contain_text("par", ignore_case=True)
    expect(page.locator("#badges")).to_contain_text("At par: USDT", ignore_case=True)
    expect(page.locator("tr.holding[data-asset=USDC] .marks")).not_to_contain_text("par")

    post(sandbox + "/__sandbox__/tickers", {"USDC-USDT": {"last": "0.87"}})
    post(server + "/api/v1/sync", {"accounts": None})
    # USDC at 0.87: 130 less, and XYZ (quoted in USDC: 10 x 2 USDC) 2.60 less
    expect(page.locator("#total")).to_have_text("$40,537.40")
    expect(page.locator("tr.holding[data-asset=USDC] td.col-price")).to_have_text("$0.87")

    app = App(settings=settings, password=lambda **_: PASSWORD)
    try:
        with app.db().session() as store:
            old = datetime.now(UTC) - timedelta(hours=2)
            store.upsert_prices(prices=[Price("BTC", Decimal(60000), "okx:BTC-USDT", old)])
    finally:
        app.close()
    page.reload()
    btc = page.locator("tr.holding[data-asset=BTC]")
    expect(btc.locator(".marks")).to_contain_text("old price", ignore_case=True)
    expect(page.locator("#badges")).to_contain_text("1 old price", ignore_case=True)
