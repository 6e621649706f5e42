"""`keyfolio worker` and `keyfolio scheduler`: hosted mode's sync processes (docs/deploy.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from keyfolio.cli._context import err_console, state
from keyfolio.cli._signals import stop_on_signals

__all__ = ["scheduler_command", "worker_command"]


def worker_command(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            max=256,
            help="Accounts synced at once by this process (one thread each).",
        ),
    ] = 8,
) -> None:
    """Run sync jobs from the queue (hosted mode: KEYFOLIO_BROKER_URL is set).

    Takes the jobs `keyfolio scheduler` sends, one account each, and syncs them against the
    shared database (KEYFOLIO_DATABASE_URL). The vault is opened once at start, with
    KEYFOLIO_PASSWORD or the file named by KEYFOLIO_PASSWORD_FILE. A job is acknowledged only
    after its sync committed; a worker that dies mid-job has its job run again by another
    worker. SIGTERM (or Ctrl-C) at any moment stops it cleanly: the jobs in progress finish,
    those it had fetched go back to the queue; during start-up it exits before taking any.
    Started before the first account is linked, it waits for the vault to be created.
    """
    from keyfolio.services.hosted import require_hosted, run_worker

    stop = stop_on_signals(
        lambda name: err_console.print(f"{name}: stopping once the jobs in progress finish.")
    )
    settings = state.settings()
    require_hosted(settings, command="worker")
    app = state.app()
    err_console.print(f"keyfolio worker: {concurrency} at once; stop with Ctrl-C or SIGTERM.")

    def waiting() -> None:
        err_console.print(
            "No vault in the database yet: waiting until the first account is linked "
            "(`keyfolio account add`, or the dashboard)."
        )

    run_worker(app, concurrency=concurrency, stop=stop, waiting=waiting)


def scheduler_command(
    interval: Annotated[
        float,
        typer.Option(
            "--interval", min=1.0, help="Seconds between two rounds (one sync of every account)."
        ),
    ] = 60.0,
    jitter: Annotated[
        float | None,
        typer.Option(
            "--jitter",
            min=0.0,
            help="Spread each round's jobs over this many seconds (default: a tenth of "
            "--interval), so the venues are not asked for every account at once.",
            show_default=False,
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Send one round, then exit (e.g. from cron).")
    ] = False,
) -> None:
    """Send one sync job per account every --interval seconds (hosted mode).

    Run one scheduler for the whole deployment (a second one is harmless: its jobs for the
    same round are no-ops). It never reads the vault: a job names its account, nothing more.
    """
    from keyfolio.services.hosted import require_hosted, run_scheduler

    stop = stop_on_signals()
    settings = state.settings()
    require_hosted(settings, command="scheduler")
    app = state.app()
    spread = interval / 10 if jitter is None else min(jitter, interval)

    def sent(number: int, names: list[str]) -> None:
        err_console.print(f"round {number}: sent {len(names)} sync jobs")

    run_scheduler(app, interval=interval, jitter=spread, stop=stop, once=once, sent=sent)
