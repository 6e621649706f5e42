"""The dashboard's other pages and rules: labels, unlock, token mode, portfolios, CSP.

Browser tests drive Debian's Chromium; the static checks read the packaged files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from web_support import ALICE_TOTAL, PASSWORD, READ_KEY, get, link_body, post

from keyfolio.web.pages import PAGES, STATIC_DIR, TEMPLATES_DIR

FORM_LABELS = [
    "Exchange",
    "Region",
    "API key",
    "Secret key",
    "Passphrase",
    "Portfolio",
    "Import Balance",
]


@pytest.mark.browser
def test_every_link_form_field_has_its_accessible_label(page: Any, server: str) -> None:
    page.goto(server + "/link")
    expect(page.locator("body[data-loaded=true]")).to_have_count(1)
    for label in FORM_LABELS:
        expect(page.get_by_label(label, exact=True)).to_have_count(1)
        expect(page.get_by_label(label)).to_have_count(1)
    expect(page.get_by_label("Exchange")).to_have_value("okx")
    expect(page.get_by_label("Region").locator("option")).to_have_count(3)
    guide = page.locator("aside.guide")
    expect(guide).to_contain_text("API Management")
    expect(guide).to_contain_text("Read")
    expect(page.locator("#passphrase-help")).to_contain_text("Password")
    api_url = page.get_by_label("Advanced: API URL")
    expect(api_url).to_be_hidden()
    page.get_by_text("Advanced", exact=True).click()
    expect(api_url).to_be_visible()
    expect(page.locator("details.advanced")).to_contain_text("sandbox")

    page.get_by_label("Exchange").select_option("binance")  # no passphrase, no OKX guide
    expect(page.get_by_label("Passphrase")).to_be_hidden()
    expect(page.locator("#guide-okx")).to_be_hidden()
    expect(page.locator("#guide-generic")).to_be_visible()
    expect(page.get_by_label("Region").locator("option")).to_have_count(1)
    page.get_by_label("Exchange").select_option("okx")
    expect(page.get_by_label("Passphrase")).to_be_visible()


@pytest.mark.browser
def test_the_unlock_page_sets_the_vault_password_then_linking_works(
    page: Any, locked_server: str, sandbox: str
) -> None:
    page.goto(locked_server + "/link")
    expect(page.locator("#vault-hint")).to_be_visible()
    page.get_by_role("link", name="Unlock it").click()
    expect(page.get_by_role("heading", name="Choose a vault password")).to_be_visible()
    page.get_by_label("Vault password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD + "-typo")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator("#unlock-error")).to_contain_text("differ")
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page).to_have_url(locked_server + "/link")
    expect(page.locator("#vault-hint")).to_be_hidden()
    assert get(locked_server + "/api/v1/vault")["unlocked"] is True
    post(locked_server + "/api/v1/accounts", link_body("alice", READ_KEY, sandbox))
    page.goto(locked_server + "/")
    expect(page.locator("#total")).to_have_text(ALICE_TOTAL)


@pytest.mark.browser
def test_a_wrong_vault_password_is_explained(open_page: Any, settings: Any, sandbox: str) -> None:
    from keyfolio.api.server import ServerThread

    with ServerThread(settings, password=PASSWORD) as first:
        post(first.url + "/api/v1/accounts", link_body("alice", READ_KEY, sandbox))
    with ServerThread(settings) as server:
        page = open_page()
        page.goto(server.url + "/")
        expect(page.locator("#total")).to_have_text(ALICE_TOTAL)  # read-only while locked
        expect(page.locator("#vault-state")).to_be_visible()
        page.locator("#vault-state").click()
        expect(page.get_by_role("heading", name="Unlock the vault")).to_be_visible()
        page.get_by_label("Vault password", exact=True).fill("wrong-password")
        page.get_by_role("button", name="Unlock").click()
        expect(page.locator("#unlock-error .error-hint")).not_to_be_empty()
        page.get_by_label("Vault password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Unlock").click()
        expect(page.locator("#unlocked-msg")).to_be_visible()
        expect(page.locator("#vault-state")).to_be_hidden()


@pytest.mark.browser
def test_token_mode_asks_for_the_token_once(open_page: Any, settings: Any, sandbox: str) -> None:
    from keyfolio.api.server import ServerThread

    token = "web-test-token-7f3b9c2d1e"
    with ServerThread(settings, password=PASSWORD, token=token) as server:
        page = open_page()
        page.goto(server.url + "/")
        dialog = page.locator("#token-dialog")
        expect(dialog).to_be_visible()
        page.get_by_label("API token", exact=True).fill(token)
        page.get_by_role("button", name="Use token").click()
        expect(dialog).to_be_hidden()
        expect(page.locator("#total")).to_have_text("$0.00")
        expect(page.locator("#live-state")).to_have_text("Live")
        page.goto(server.url + "/accounts")  # kept for the tab: no second prompt
        expect(page.locator("#empty")).to_be_visible()
        expect(dialog).to_be_hidden()


@pytest.mark.browser
def test_portfolios_create_rename_switch_and_remove(page: Any, server: str) -> None:
    page.goto(server + "/portfolios")
    rows = page.locator("#portfolios tbody tr")
    expect(rows).to_have_count(1)
    page.get_by_label("Name", exact=True).fill("long-term")
    page.get_by_role("button", name="Create").click()
    expect(rows).to_have_count(2)

    page.get_by_role("button", name="Rename long-term").click()
    page.get_by_label("New name for long-term").fill("hodl")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("tr[data-portfolio=hodl]")).to_have_count(1)

    page.get_by_role("button", name="Create").click()  # empty name
    expect(page.locator("#create-error")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("hodl")
    page.get_by_role("button", name="Create").click()  # already exists: the API's 409
    expect(page.locator("#create-error")).to_contain_text("hodl")

    page.get_by_role("button", name="Switch to hodl").click()
    expect(page).to_have_url(re.compile(r"/\?portfolio=hodl$"))
    expect(page.get_by_label("Portfolio", exact=True)).to_have_value("hodl")
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#total")).to_have_text("$0.00")

    page.goto(server + "/portfolios")
    page.get_by_role("button", name="Remove hodl").click()
    page.get_by_role("button", name="Yes, remove").click()
    expect(page.locator("tr[data-portfolio=hodl]")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove main")).to_be_disabled()


@pytest.mark.browser
def test_accounts_page_shows_health_and_removes(page: Any, server: str, sandbox: str) -> None:
    post(server + "/api/v1/accounts", link_body("alice", READ_KEY, sandbox))
    page.goto(server + "/accounts")
    card = page.locator("article.account[data-account=alice]")
    expect(card.locator(".account-head .badge").first).to_have_text("ok")
    expect(card.locator("table.sources tbody tr")).to_have_count(4)
    expect(card).to_contain_text("web-…9d1e")
    assert READ_KEY["apiKey"] not in page.content()

    card.get_by_role("button", name="Rotate key").click()
    card.get_by_label("New API key").fill(READ_KEY["apiKey"])
    card.get_by_label("New secret key").fill(READ_KEY["secret"])
    card.get_by_label("New passphrase").fill("wrong-passphrase")
    card.get_by_role("button", name="Check and save key").click()
    expect(card.locator(".error-hint")).to_contain_text("cannot recover it")

    card = page.locator("article.account[data-account=alice]")
    card.get_by_role("button", name="Remove").click()
    card.get_by_role("button", name="Yes, remove").click()
    expect(page.locator("article.account")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()


def test_pages_have_no_inline_scripts_or_styles() -> None:
    """The Content-Security-Policy allows only files from /static: check the sources too."""
    templates = sorted(TEMPLATES_DIR.glob("*.html"))
    assert {page.template for page in PAGES} <= {path.name for path in templates}
    for path in templates:
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path.name
        assert "<style" not in text, path.name
        assert not re.search(r"\sstyle\s*=", text), path.name
        assert not re.search(r"\son[a-z]+\s*=", text), path.name
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path.name
    for script in sorted(STATIC_DIR.glob("*.js")):
        code = script.read_text()
        assert "innerHTML" not in code and "eval(" not in code, script.name
        assert '.setAttribute("style"' not in code, script.name


def test_the_chart_library_is_vendored_with_its_license() -> None:
    vendor = STATIC_DIR / "vendor"
    assert (vendor / "uPlot.iife.min.js").stat().st_size > 10_000
    assert "MIT License" in (vendor / "uPlot.LICENSE.txt").read_text()
    assert not list(Path(vendor).glob("*.map"))
