"""Fixtures for the dashboard's browser tests: Debian's Chromium, the sandbox, the server.

A missing /usr/bin/chromium skips the browser tests, unless KEYFOLIO_REQUIRE_BROWSER=1
(CI sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Read at import: the suite's autouse fixture removes every KEYFOLIO_* variable per test.
REQUIRE_BROWSER = os.environ.get("KEYFOLIO_REQUIRE_BROWSER") == "1"


def _no_browser(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (KEYFOLIO_REQUIRE_BROWSER=1 makes this a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, driven by Playwright (one per test module and worker)."""
    if not CHROMIUM.exists():
        _no_browser(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("playwright is not installed")
    from playwright.sync_api import expect

    # Timeouts only bound a failure: a loaded CI machine can be slow (ccxt's first import).
    expect.set_options(timeout=30_000)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """A factory of fresh pages, each in its own context (no shared storage).

    Keyword arguments go to ``browser.new_context`` (default viewport 1280x900). At teardown
    the test fails if any page had an uncaught JavaScript error or a CSP violation.
    """
    contexts: list[Any] = []
    problems: list[str] = []

    def console(message: Any) -> None:
        text = message.text
        if message.type == "error" and ("Refused to" in text or "Security Policy" in text):
            problems.append(f"CSP violation: {text}")

    def opener(**options: Any) -> Any:
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(**options)
        context.set_default_timeout(30_000)
        contexts.append(context)
        tab = context.new_page()
        tab.on("console", console)
        tab.on("pageerror", lambda exc: problems.append(f"JavaScript error: {exc}"))
        return tab

    try:
        yield opener
    finally:
        for context in contexts:
            context.close()
    assert not problems, problems


@pytest.fixture
def page(open_page: Callable[..., Any]) -> Any:
    """A fresh desktop-sized page (1280x900)."""
    return open_page()


@pytest.fixture
def sandbox() -> Iterator[str]:
    """A sandbox OKX on a free loopback port; its base URL."""
    from web_support import base_state

    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    with SandboxThread(parse_state(base_state()), rate_limit=False) as server:
        yield server.url


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    from keyfolio.config import Settings

    return Settings(home=tmp_path / "home", poll_seconds=3600)


@pytest.fixture
def server(settings: Any) -> Iterator[str]:
    """keyfolio's API and dashboard on a free loopback port, vault password given; its URL."""
    from web_support import PASSWORD

    from keyfolio.api.server import ServerThread

    with ServerThread(settings, password=PASSWORD) as running:
        yield running.url


@pytest.fixture
def locked_server(settings: Any) -> Iterator[str]:
    """The server with no vault password: the dashboard must ask for one."""
    from keyfolio.api.server import ServerThread

    with ServerThread(settings) as running:
        yield running.url
