"""The dashboard when the vault re-locks after its idle period, and unlocking it again.

The server's idle clock is injected: the test moves it and wakes the re-lock watcher.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from web_support import ALICE_TOTAL, PASSWORD, READ_KEY, get, link_body, post


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.browser
def test_the_dashboard_shows_the_relocked_vault_and_unlocks_it_again(
    open_page: Any, settings: Any, sandbox: str
) -> None:
    from keyfolio.api.server import ServerThread

    clock = FakeClock()
    with ServerThread(settings, password=PASSWORD, clock=clock) as server:
        post(server.url + "/api/v1/accounts", link_body("alice", READ_KEY, sandbox))
        page = open_page()
        page.goto(server.url + "/")
        expect(page.locator("#total")).to_have_text(ALICE_TOTAL)
        expect(page.locator("#live-state")).to_have_text("Live")
        expect(page.locator("#vault-state")).to_be_hidden()

        clock.now += 16 * 60
        server.api.state.keyfolio.vault.wake()

        expect(page.locator("#vault-state")).to_be_visible()
        expect(page.locator("#vault-state")).to_have_text("Vault locked")
        expect(page.locator("#notice")).to_contain_text("The vault locked itself")
        expect(page.locator("#badges")).to_contain_text("Vault locked")
        expect(page.locator("#total")).to_have_text(ALICE_TOTAL)  # stored data still shows
        assert get(server.url + "/api/v1/health")["refresh"] == "locked"

        page.locator("#vault-state").click()
        expect(page.get_by_role("heading", name="Unlock the vault")).to_be_visible()
        expect(page.locator("#relock-note")).to_contain_text("locks itself again after 15 minutes")
        page.get_by_label("Vault password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Unlock").click()
        expect(page.locator("#unlocked-msg")).to_be_visible()
        expect(page.locator("#vault-state")).to_be_hidden()
        assert get(server.url + "/api/v1/health")["refresh"] == "live"
