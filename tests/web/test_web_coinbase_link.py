"""Linking Coinbase through the dashboard: the form turns the secret into a masked textarea for a
venue whose secret is a multi-line PEM (``multiline_secret``), and the pasted key links."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from coinbase_support import CB_READ, coinbase_state
from playwright.sync_api import expect

from keyfolio.sandbox.core.server import SandboxThread
from keyfolio.sandbox.venues import parse_state

pytestmark = pytest.mark.browser


@pytest.fixture
def coinbase() -> Iterator[str]:
    with SandboxThread(parse_state(coinbase_state()), rate_limit=False) as server:
        yield server.url


def test_a_pem_pasted_in_the_textarea_links_coinbase(page: Any, server: str, coinbase: str) -> None:
    page.goto(server + "/link")
    secret = page.locator("#secret")
    expect(secret).to_have_attribute("type", "password")  # OKX first: a one-line secret
    page.get_by_label("Exchange").select_option("coinbase")
    expect(page.locator("textarea#secret")).to_be_visible()
    expect(page.locator("#secret-help")).to_contain_text("-----BEGIN")
    page.get_by_label("Account name").fill("cb")
    page.get_by_label("API Key Name").fill(CB_READ["apiKey"])
    page.get_by_label("Private Key").fill(CB_READ["secret"])  # every line, newlines kept
    page.get_by_text("Advanced", exact=True).click()
    page.get_by_label("Advanced: API URL").fill(coinbase)
    page.get_by_role("button", name="Link account").click()

    expect(page.locator("#link-result")).to_be_visible()
    expect(page.locator("#result-permissions")).to_have_text("can_view")
    expect(page.locator("#result-sync")).to_have_text("Balances imported")
    expect(page.locator("#result-notes")).to_contain_text("does not report whether this key")
    for line in CB_READ["secret"].splitlines()[1:-1]:
        assert line not in page.content()
    page.get_by_role("button", name="Link another").click()
    page.get_by_label("Exchange").select_option("binance")
    expect(page.locator("input#secret")).to_have_attribute("type", "password")
