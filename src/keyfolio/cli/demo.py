"""`keyfolio demo`: the whole story, offline, against a built-in sandbox of each first-class venue.

Everything here goes through the same services as `keyfolio account add`, `sync` and `show`;
the sandbox is a real HTTP server on loopback, and the calls are real signed requests.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.rule import Rule

from keyfolio.cli._context import console, err_console
from keyfolio.cli.accounts import print_link_report
from keyfolio.cli.render import render_performance, render_view
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.money import ZERO, format_amount, format_usd, subtract
from keyfolio.errors import UnsafeKeyError

if TYPE_CHECKING:
    from keyfolio.services.context import App
    from keyfolio.services.view import PortfolioView

__all__ = ["run_demo"]

DEMO_PASSWORD = "keyfolio-demo-vault"  # noqa: S105 - the demo's throwaway vault, in a temp dir


def _credentials(key: Mapping[str, str]) -> Credentials:
    fields = {"apiKey": key["apiKey"], "secret": key["secret"]}
    if "passphrase" in key:  # OKX's passphrase is ccxt's "password"
        fields["password"] = key["passphrase"]
    return Credentials(fields=fields)


def _post(url: str, body: dict[str, str]) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310 - loopback sandbox URL we started
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        result: dict[str, object] = json.loads(response.read())
        return result


def _step(title: str) -> None:
    console.print()
    console.print(Rule(f"[bold cyan]{title}", align="left"))


async def run_demo(home: Path | None, *, debug: bool = False) -> None:
    """Start the sandbox, refuse an unsafe key, link a read-only one, sync, trade, sync."""
    from keyfolio.config import Settings
    from keyfolio.logging import setup_logging
    from keyfolio.services.context import App

    with tempfile.TemporaryDirectory(prefix="keyfolio-demo-") as scratch:
        data_dir = home if home is not None else Path(scratch)
        settings = Settings(home=data_dir, debug=debug)
        settings.ensure_home()
        setup_logging(debug=debug, log_file=settings.log_path)
        console.print(
            "[bold]keyfolio demo[/] — offline, against the built-in sandboxes of OKX, Binance, "
            "Bybit, Coinbase and Kraken."
        )
        console.print(f"Data directory: {data_dir}" + ("" if home else " (temporary)"))
        app = App(settings=settings, password=lambda **_: DEMO_PASSWORD)
        try:
            await _story(app)
        finally:
            app.close()
    if home is not None:
        console.print(
            f"\nThe demo's data stays in {home} (vault password: {DEMO_PASSWORD}); "
            "its sandbox is gone, so a sync there will fail."
        )
    _step("Next: link your real accounts")
    console.print(
        "1. Create a [bold]read-only[/] API key, bound to your IP (`keyfolio exchanges` says where "
        "for each exchange; docs/exchanges/<exchange>.md has the steps).\n"
        "2. keyfolio account add okx --name main   [dim](--region eea for my.okx.com, "
        "--region us for app.okx.com; or binance, bybit, coinbase, kraken)[/]\n"
        "3. keyfolio sync && keyfolio show   [dim](then: keyfolio history, keyfolio pnl, "
        "keyfolio watch)[/]\n"
        "4. keyfolio serve --open   [dim](the dashboard; `keyfolio sandbox` serves this demo's "
        "account to try it offline)[/]"
    )


async def _story(app: App) -> None:
    """The eight steps, each through the same service a CLI command uses."""
    from contextlib import AsyncExitStack

    from keyfolio.sandbox.core.server import run_sandbox
    from keyfolio.sandbox.venues import VENUE_IDS, venue
    from keyfolio.sandbox.venues.okx.demo import DEMO_TRADING_KEY
    from keyfolio.services.accounts import link_account

    async with AsyncExitStack() as stack:
        urls = {
            venue_id: await stack.enter_async_context(
                run_sandbox(venue(venue_id).demo_state(), port=0)
            )
            for venue_id in VENUE_IDS
        }
        console.print(
            f"{len(urls)} sandboxes on loopback (real HTTP, each exchange's own signatures and "
            "answers): " + ", ".join(f"{venue(v).name} {url}" for v, url in urls.items())
        )

        _step("1. Link a key that can withdraw and trade: refused")
        unsafe = AccountSpec(exchange="okx", name="risky", api_url=urls["okx"])
        try:
            await link_account(app, unsafe, _credentials(DEMO_TRADING_KEY))
        except UnsafeKeyError as exc:
            err_console.print(f"[bold red]Error:[/] {escape(exc.message)}")
            err_console.print(f"[bold]Hint:[/] {escape(exc.hint)}")
        else:  # pragma: no cover - the demo state makes this impossible
            raise AssertionError("the sandbox accepted a withdraw-enabled key")
        await _link_and_show(app, urls)


async def _link_and_show(app: App, urls: dict[str, str]) -> None:
    from keyfolio.analytics.pnl import CostMethod
    from keyfolio.cli.analytics import render_pnl
    from keyfolio.sandbox.venues import venue
    from keyfolio.services.accounts import link_account
    from keyfolio.services.analytics import pnl_report, summary_extras
    from keyfolio.services.sync import sync_accounts
    from keyfolio.services.view import portfolio_view

    _step("2. Link the read-only key (keyfolio account add okx --name demo)")
    spec = AccountSpec(exchange="okx", name="demo", api_url=urls["okx"])
    print_link_report(await link_account(app, spec, _credentials(venue("okx").demo_key())))

    others = [venue_id for venue_id in urls if venue_id != "okx"]
    names = ", ".join(venue(v).name for v in others)
    _step(f"3. Link {names} too (keyfolio account add binance --name demo-binance ...)")
    console.print(
        "[dim]Each exchange hides balances in its own places: Binance lists Simple Earn again "
        "in spot as LD<asset>, Kraken suffixes staked coins (ETH.B), Bybit's Earn sits beside "
        "Funding. keyfolio reads every source and counts each coin once.[/]"
    )
    for venue_id in others:
        other = AccountSpec(exchange=venue_id, name=f"demo-{venue_id}", api_url=urls[venue_id])
        key = _credentials(venue(venue_id).demo_key())
        print_link_report(await link_account(app, other, key))

    _step(f"4. Sync all {len(urls)} (keyfolio sync)")
    for outcome in (await sync_accounts(app)).outcomes:
        console.print(f"{outcome.account}: {outcome.status}")

    _step(f"5. One portfolio across {len(urls)} exchanges (keyfolio show)")
    before = portfolio_view(app)
    render_view(before)

    _step("6. A trade happens on OKX: buy 0.1 BTC; sync again")
    await asyncio.to_thread(
        _post,
        f"{urls['okx']}/__sandbox__/trade",
        {"account": "demo", "symbol": "BTC-USDT", "side": "buy", "amount": "0.1"},
    )
    await sync_accounts(app)
    after = portfolio_view(app)
    render_view(after)
    _print_changes(before, after)

    _step("7. Performance: 24h change, top gainers and losers (keyfolio show)")
    render_performance(summary_extras(app, after))

    _step("8. Profit and loss from the imported trades (keyfolio pnl)")
    render_pnl(pnl_report(app, method=CostMethod.FIFO), portfolio="main")


def _print_changes(before: PortfolioView, after: PortfolioView) -> None:
    old = {h.asset: h.amount for h in before.holdings}
    console.print("[bold]What changed:[/]")
    for holding in after.holdings:
        delta = subtract(holding.amount, old.get(holding.asset, ZERO))
        if delta:
            sign = "+" if delta > 0 else ""
            console.print(f"  {holding.asset}: {sign}{format_amount(delta)}")
    console.print(
        f"  total: {format_usd(before.total_value)} -> {format_usd(after.total_value)} USD "
        "(the 0.1 % fee was paid in BTC)"
    )
