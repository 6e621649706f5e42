"""`keyfolio watch`: the portfolio, updated live from WebSockets and polling.

On a terminal it keeps one Rich ``Live`` view (the `keyfolio show` screen plus a status line
per account) and re-renders it on every ``portfolio.updated`` / ``account.status`` event.
Elsewhere (a pipe, a test) it prints one line per event with the new total, e.g.::

    watching portfolio main (1 account); Ctrl-C to stop. total=39,670.00 USD
    account.status account=alice status=live
    portfolio.updated account=alice reason=trade total=39,664.00 USD

Ctrl-C (SIGINT) or SIGTERM stops it cleanly with exit code 0.
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import suppress
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from keyfolio.cli._context import console, err_console, state
from keyfolio.domain.money import format_usd
from keyfolio.errors import UsageError

if TYPE_CHECKING:
    from keyfolio.services.context import App
    from keyfolio.services.events import Event
    from keyfolio.services.view import PortfolioView

__all__ = ["watch_command"]

_COLOURS = {"live": "green", "reconnecting": "yellow", "polling": "cyan", "failed": "red"}


def watch_command(
    portfolio: Annotated[str, typer.Option(help="Portfolio to watch.")] = "main",
    poll_seconds: Annotated[
        float,
        typer.Option(
            "--poll-seconds",
            help="How often Funding, Earn and accounts without a live stream are polled.",
        ),
    ] = 60.0,
) -> None:
    """Watch a portfolio live until Ctrl-C: trades, transfers and prices as they happen."""
    if not poll_seconds > 0:
        raise UsageError(
            f"--poll-seconds must be positive, not {poll_seconds:g}",
            hint="For example --poll-seconds 30.",
        )
    app_ = state.app()
    app_.unlock()  # ask for the vault password before the live display takes the screen
    try:
        asyncio.run(_watch(app_, portfolio, poll_seconds, interactive=console.is_terminal))
    except KeyboardInterrupt:  # a platform without signal handlers in the loop
        pass
    err_console.print("Stopped watching.")


async def _watch(app: App, portfolio: str, poll_seconds: float, *, interactive: bool) -> None:
    from keyfolio.services.live import LiveEngine

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    engine = LiveEngine(app, portfolio=portfolio, poll_seconds=poll_seconds)
    screen = _Screen(app, portfolio, interactive=interactive)
    async with app.bus.subscribe() as events:
        running = asyncio.create_task(engine.run(), name="keyfolio-watch-engine")
        stopping = asyncio.create_task(stop.wait())
        ready = asyncio.create_task(engine.ready.wait())
        try:
            await asyncio.wait({running, stopping, ready}, return_when=asyncio.FIRST_COMPLETED)
            if running.done():
                running.result()  # the engine could not start: its error is the command's
            if not stop.is_set():
                await screen.start(engine.statuses)
                await _follow(screen, events, running, stopping, engine.statuses)
        finally:
            for task in (running, stopping, ready):
                task.cancel()
            for task in (running, stopping, ready):
                with suppress(asyncio.CancelledError):
                    await task
            screen.stop()


async def _follow(
    screen: _Screen,
    events: Any,
    running: asyncio.Task[None],
    stopping: asyncio.Task[bool],
    statuses: dict[str, str],
) -> None:
    while True:
        getter: asyncio.Task[Event] = asyncio.create_task(events.get())
        await asyncio.wait({getter, running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not getter.done():
            getter.cancel()
            with suppress(asyncio.CancelledError):
                await getter
            if running.done() and not stopping.done():
                running.result()
            return
        await screen.show(getter.result(), statuses)


class _Screen:
    """The Rich Live view on a terminal; one line per event elsewhere."""

    def __init__(self, app: App, portfolio: str, *, interactive: bool) -> None:
        self.app = app
        self.portfolio = portfolio
        self.interactive = interactive
        self._live: Any = None
        self._last: dict[str, dict[str, Any]] = {}

    async def _view(self) -> PortfolioView:
        from keyfolio.services.view import portfolio_view

        return await asyncio.to_thread(portfolio_view, self.app, portfolio=self.portfolio)

    async def start(self, statuses: dict[str, str]) -> None:
        view = await self._view()
        if self.interactive:
            from rich.live import Live

            self._live = Live(console=console, auto_refresh=False, transient=False)
            self._live.start()
            self._live.update(self._renderable(view, statuses), refresh=True)
            return
        count = len(view.accounts)
        typer.echo(
            f"watching portfolio {self.portfolio} ({count} account{'s' * (count != 1)}); "
            f"Ctrl-C to stop. total={format_usd(view.total_value)} USD"
        )  # the status events of the start follow: they are queued already

    async def show(self, event: Event, statuses: dict[str, str]) -> None:
        data = event.data
        if data.get("portfolio") not in (None, self.portfolio):
            return
        if event.type == "account.status":
            self._last[str(data.get("account"))] = data
        if event.type not in ("portfolio.updated", "account.status"):
            return
        view = await self._view()
        if self._live is not None:
            self._live.update(self._renderable(view, statuses), refresh=True)
            return
        if event.type == "portfolio.updated":
            typer.echo(
                f"portfolio.updated account={data.get('account') or '-'} "
                f"reason={data.get('reason')} total={format_usd(view.total_value)} USD"
            )
        else:
            line = f"account.status account={data.get('account')} status={data.get('status')}"
            if data.get("error"):
                line += f" error={data['error']} hint={data.get('hint') or ''}"
            typer.echo(line)

    def _renderable(self, view: PortfolioView, statuses: dict[str, str]) -> RenderableType:
        table = Table("account", "stream", "note", title="live status", title_justify="left")
        for name, status in sorted(statuses.items()):
            last = self._last.get(name, {})
            note = last.get("error") or ""
            if last.get("hint"):
                note = f"{note} — {last['hint']}"
            colour = _COLOURS.get(status, "white")
            table.add_row(name, f"[{colour}]{status}[/]", escape(note))
        footer = Text("Watching; Ctrl-C to stop.", style="dim")
        return Group(_view_renderable(view), table, footer)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def _view_renderable(view: PortfolioView) -> RenderableType:
    """The `keyfolio show` screen as one renderable."""
    from keyfolio.cli.render import view_renderable

    return view_renderable(view)
