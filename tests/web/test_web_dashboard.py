"""The dashboard in Debian's Chromium against the real API and the sandbox OKX.

Each test starts its own sandbox and server (free ports, its own home), links accounts
through the form or the API, and waits with Playwright's auto-waiting assertions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from web_support import ALICE_TOTAL, BOB_KEY, READ_KEY, link_body, post, seed_history

pytestmark = pytest.mark.browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"
# The README's picture is rewritten only on request (`make screenshot`), so a test run leaves
# the work tree clean; otherwise the screenshot goes to the test's own directory.
UPDATE_SCREENSHOT = os.environ.get("KEYFOLIO_UPDATE_SCREENSHOT") == "1"


def link(server: str, sandbox: str, name: str = "alice", creds: dict[str, str] = READ_KEY) -> None:
    result = post(server + "/api/v1/accounts", link_body(name, creds, sandbox))
    assert result["sync"]["status"] == "ok"


def fill_link_form(page: Any, sandbox: str, *, passphrase: str) -> None:
    page.get_by_label("Exchange").select_option("okx")
    page.get_by_label("Region").select_option("global")
    page.get_by_label("Account name").fill("alice")
    page.get_by_label("API key").fill(READ_KEY["apiKey"])
    page.get_by_label("Secret key").fill(READ_KEY["secret"])
    page.get_by_label("Passphrase").fill(passphrase)
    page.get_by_label("Portfolio").select_option("main")
    expect(page.get_by_label("Import Balance")).to_be_checked()
    page.get_by_text("Advanced", exact=True).click()
    page.get_by_label("Advanced: API URL").fill(sandbox)


def test_link_through_the_form_then_the_total_appears(page: Any, server: str, sandbox: str) -> None:
    page.goto(server + "/link")
    fill_link_form(page, sandbox, passphrase=READ_KEY["passphrase"])
    page.get_by_role("button", name="Link account").click()

    result = page.locator("#link-result")
    expect(result).to_be_visible()
    expect(page.locator("#result-permissions")).to_have_text("Read only")
    expect(page.locator("#result-sync")).to_have_text("Balances imported")
    expect(page.get_by_label("Secret key")).to_be_hidden()

    page.get_by_role("link", name="See the portfolio").click()
    expect(page.locator("#total")).to_have_text(ALICE_TOTAL)
    expect(page.locator("#holdings tbody tr.holding")).to_have_count(7)
    expect(page.locator("#badges")).to_contain_text("1 unpriced", ignore_case=True)
    assert READ_KEY["secret"] not in page.content()


def test_a_wrong_passphrase_shows_its_hint_inline(page: Any, server: str, sandbox: str) -> None:
    page.goto(server + "/link")
    fill_link_form(page, sandbox, passphrase="not-the-passphrase")
    page.get_by_role("button", name="Link account").click()

    error = page.locator("#link-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("passphrase")
    expect(error.locator(".error-hint")).to_contain_text("cannot recover it")
    expect(page.get_by_label("Passphrase")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#link-result")).to_be_hidden()
    # nothing was stored
    page.goto(server + "/accounts")
    expect(page.locator("#empty")).to_be_visible()


def test_a_sandbox_trade_changes_the_total_without_a_reload(
    page: Any, server: str, sandbox: str
) -> None:
    link(server, sandbox)
    page.goto(server + "/")
    expect(page.locator("#total")).to_have_text(ALICE_TOTAL)
    expect(page.locator("#live-state")).to_have_text("Live")
    page.evaluate("window.__notReloaded = true")

    # sell 0.1 BTC at 60000: -6000 of BTC, +5994 USDT after the 0.1 % fee
    post(
        sandbox + "/__sandbox__/trade",
        {"account": "alice", "instId": "BTC-USDT", "side": "sell", "sz": "0.1"},
    )
    # pushed, not polled (poll_seconds is 3600) and not reloaded
    expect(page.locator("#total")).to_have_text("$39,664.00")
    assert page.evaluate("window.__notReloaded") is True


def test_the_import_balance_toggle_changes_the_total(page: Any, server: str, sandbox: str) -> None:
    link(server, sandbox)
    link(server, sandbox, "bob", BOB_KEY)
    page.goto(server + "/")
    expect(page.locator("#total")).to_have_text("$159,670.00")

    page.goto(server + "/accounts")
    bob = page.locator("article.account[data-account=bob]")
    toggle = bob.get_by_label("Import Balance")
    expect(toggle).to_be_checked()
    toggle.click()
    bob = page.locator("article.account[data-account=bob]")
    expect(bob.get_by_label("Import Balance")).not_to_be_checked()
    expect(bob).to_contain_text("not counted", ignore_case=True)

    page.goto(server + "/")
    expect(page.locator("#total")).to_have_text(ALICE_TOTAL)


def test_screenshot_of_a_populated_overview(
    open_page: Any, server: str, sandbox: str, settings: Any, tmp_path: Path
) -> None:
    link(server, sandbox)
    link(server, sandbox, "bob", BOB_KEY)
    seed_history(settings)
    page = open_page(color_scheme="light")
    page.goto(server + "/")
    page.get_by_role("button", name="30d").click()
    expect(page.locator("#total")).to_have_text("$159,670.00")
    expect(page.locator("#chart canvas")).to_be_visible()
    expect(page.locator("#chart-empty")).to_be_hidden()
    expect(page.locator("#alloc-legend li")).to_have_count(6)
    page.locator("tr.holding[data-asset=USDT] .expander").click()
    expect(page.locator("tr.detail:not(.hidden) .source-list li")).to_have_count(3)
    target = SCREENSHOT if UPDATE_SCREENSHOT else tmp_path / "dashboard.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_phone_width_has_no_horizontal_scroll(open_page: Any, server: str, sandbox: str) -> None:
    link(server, sandbox)
    page = open_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    for path in ["/", "/accounts", "/link", "/portfolios", "/unlock"]:
        page.goto(server + path)
        if path == "/":
            expect(page.locator("#total")).to_have_text(ALICE_TOTAL)
            page.locator("tr.holding[data-asset=USDT] .expander").click()
            expect(page.locator("tr.detail:not(.hidden)")).to_have_count(1)
        elif path != "/unlock":
            expect(page.locator("body[data-loaded=true]")).to_have_count(1)
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"{path} scrolls sideways at 390 px: {widths}"
