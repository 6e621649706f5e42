"""`keyfolio show`, `sync`, `doctor`, `exchanges` and `demo`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from keyfolio.cli._context import console, err_console, state
from keyfolio.cli.render import render_performance, render_view
from keyfolio.domain.balances import Source
from keyfolio.errors import InternalError, KeyfolioError, KeyNotInRegionError, UsageError

if TYPE_CHECKING:
    from keyfolio.services.doctor import Check

__all__ = [
    "demo_command",
    "doctor_command",
    "exchanges_command",
    "show_command",
    "sync_command",
]


def show_command(
    portfolio: Annotated[str, typer.Option(help="Portfolio to show.")] = "main",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (decimals as strings).")
    ] = False,
) -> None:
    """Show a portfolio: holdings, values, sources and badges.

    Reads the local database only. Each price names its market and carries
    its ticker's own time: one older than KEYFOLIO_PRICE_MAX_AGE_MINUTES
    (60) is marked stale. Stablecoins are priced from their markets
    (USDT-USD, USDC-USDT, ...); one no linked venue has a market for is
    assumed 1:1 and marked (par). In JSON: price_source, price_as_of,
    price_stale and stale_prices.
    """
    from keyfolio.services.summary import portfolio_summary
    from keyfolio.services.view import portfolio_view

    if as_json:
        typer.echo(json.dumps(portfolio_summary(state.app(), portfolio=portfolio), indent=2))
        return
    app_ = state.app()
    view = portfolio_view(app_, portfolio=portfolio)
    if not view.accounts:
        suffix = "" if portfolio == "main" else f" --portfolio {portfolio}"
        console.print(
            f"Portfolio '{portfolio}' has no accounts yet. Link one with "
            f"`keyfolio account add okx --name NAME{suffix}`"
            + ("" if portfolio == "main" else f" or `keyfolio account move NAME{suffix}`")
            + "."
        )
        return
    from keyfolio.services.analytics import summary_extras

    render_view(view)
    render_performance(summary_extras(app_, view))


def sync_command(
    account: Annotated[str | None, typer.Option("--account", help="Only this account.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    history: Annotated[
        bool,
        typer.Option(
            "--history/--no-history",
            help="Also import new trades, deposits, withdrawals and bills (incremental).",
        ),
    ] = True,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait/--no-wait",
            help="Hosted mode: wait for the workers' results (default), or only send the jobs.",
        ),
    ] = True,
) -> None:
    """Refresh balances, prices and history of every account (or one).

    Each sync also records a snapshot of every balance source that was read (the value
    series behind `keyfolio history`) and imports new trades and transfers (the input of
    `keyfolio pnl`). Exit 1 if any account failed (or a bug stopped its history import); a
    failed account keeps its last good data. Exit 2 if this machine cannot store (a full disk,
    a locked database).

    In hosted mode (KEYFOLIO_BROKER_URL set) the workers sync: one job per account goes to the
    queue, and the command waits for their results and prints them as a local sync would
    (--no-wait: it returns once the jobs are sent). With no `keyfolio worker` running it stops
    after KEYFOLIO_BROKER_HEARTBEAT_SECONDS without a worker's heartbeat (exit 1); the jobs
    stay queued. It never needs the vault password then (docs/deploy.md).
    """
    app_ = state.app()
    names = [account] if account else None
    if app_.settings.is_hosted:
        report = _sync_hosted(names, history=history, wait=wait, as_json=as_json)
        if report is None:
            return
    else:
        report = _sync_here(names, history=history, as_json=as_json)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print_report(report)
    if _failed(report):
        raise typer.Exit(1)


def _sync_here(names: list[str] | None, *, history: bool, as_json: bool) -> dict[str, Any]:
    """Sync in this process; the report as JSON."""
    import asyncio

    from keyfolio.services.sync import sync_accounts

    app_ = state.app()
    if as_json:
        return asyncio.run(sync_accounts(app_, names=names, history=history)).to_json()
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=err_console, transient=False
    ) as progress:
        tasks: dict[str, object] = {}

        def on_event(name: str, event: str) -> None:
            if event == "start":
                tasks[name] = progress.add_task(f"{name}: syncing…", total=1)
                return
            task_id = tasks[name]
            progress.update(task_id, description=f"{name}: {event}", completed=1)  # type: ignore[arg-type]

        report = asyncio.run(sync_accounts(app_, names=names, progress=on_event, history=history))
    return report.to_json()


def _sync_hosted(
    names: list[str] | None, *, history: bool, wait: bool, as_json: bool
) -> dict[str, Any] | None:
    """Send one job per account to the workers; with ``wait`` their merged report as JSON."""
    from keyfolio.services.hosted_sync import send_sync, wait_for_results

    app_ = state.app()
    sent = send_sync(app_, names, history=history)
    if not wait:
        if as_json:
            typer.echo(json.dumps({"sent": sent.names}, indent=2))
        else:
            console.print(
                f"Sent {len(sent.names)} sync job(s) to the workers; their results show in "
                "`keyfolio show` (and the dashboard) as each one finishes."
            )
        return None
    if as_json or not sent.names:
        return wait_for_results(app_, sent)
    from rich.progress import Progress, SpinnerColumn, TextColumn

    err_console.print(f"Sent {len(sent.names)} sync job(s) to the workers (hosted mode).")
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=err_console, transient=False
    ) as progress:
        tasks = {name: progress.add_task(f"{name}: waiting for a worker…") for name in sent.names}

        def on_result(name: str, status: str) -> None:
            progress.update(tasks[name], description=f"{name}: {status}", completed=1, total=1)

        return wait_for_results(app_, sent, on_result=on_result)


def _failed(report: dict[str, Any]) -> bool:
    """An account failed, or a bug stopped an account's balances or its history import."""
    bug = InternalError.code
    return any(
        entry["status"] == "failed" or entry["code"] == bug for entry in report["accounts"]
    ) or any(error["code"] == bug for entry in report["history"] for error in entry["errors"])


def _print_report(report: dict[str, Any]) -> None:
    if not report["accounts"]:
        console.print("No accounts to sync. Link one with `keyfolio account add okx --name main`.")
    for entry in report["accounts"]:
        _print_account(entry)
    if report["prices_error"] is not None:
        err_console.print(f"[yellow]Prices not refreshed:[/] {escape(report['prices_error'])}")
    _print_imports(report["history"])


def _with_kept(hint: str) -> str:
    if "kept" in hint:
        return hint
    return f"{hint} Earlier data is kept, marked stale.".strip()


def _print_account(entry: dict[str, Any]) -> None:
    """Error + Hint for a failed account; a warning + hint per failed source of a partial one."""
    name = entry["name"]
    if entry["code"] is not None:  # the account's own failure
        hint = entry["hint"] or ""
        if entry["code"] == KeyNotInRegionError.code:
            hint += (
                f" For this linked account: `keyfolio account remove {name}`, then "
                f"`keyfolio account add okx --name {name} --region REGION` "
                "(`keyfolio doctor --probe-regions` finds the region)."
            )
        err_console.print(f"[bold red]Error:[/] {name}: {escape(entry['error'] or '')}")
        err_console.print(f"[bold]Hint:[/] {escape(_with_kept(hint))}")
        return
    failed = [s for s in entry["sources"] if s["status"] not in ("ok", "unsupported")]
    if entry["status"] == "failed" and failed:
        first = failed[0]
        err_console.print(
            f"[bold red]Error:[/] {name}: no balance source could be read "
            f"({Source(first['source']).label}: {escape(first['error'] or '')})"
        )
        err_console.print(f"[bold]Hint:[/] {escape(_with_kept(first['hint'] or ''))}")
        return
    for result in failed:
        err_console.print(
            f"[yellow]Warning:[/] {name}/{Source(result['source']).label} {result['status']}: "
            f"{escape(result['error'] or '')}"
        )
        if result["hint"]:
            err_console.print(
                f"[bold]Hint:[/] {escape(result['hint'])} Its last good amounts are kept, "
                "marked stale; the portfolio shows as partial."
            )


def _print_imports(history: list[dict[str, Any]]) -> None:
    from keyfolio.services.imports import describe_counts

    for imported in history:
        if imported["skipped"]:
            continue
        account = imported["account"]
        if any(imported["new"].values()):
            console.print(f"{account}: imported {describe_counts(imported['new'])}")
        for note in imported["progress"].values():
            console.print(f"{account}: {escape(note)}; it goes on at the next sync.")
        for error in imported["errors"]:
            err_console.print(
                f"[yellow]Warning:[/] {account}: history import: {escape(error['error'])}"
            )
            err_console.print(f"[bold]Hint:[/] {escape(error['hint'])}")


def doctor_command(
    account: Annotated[str | None, typer.Option("--account", help="Only this account.")] = None,
    probe_regions: Annotated[
        bool | None,
        typer.Option(
            "--probe-regions/--no-probe-regions",
            help="When OKX says the key doesn't exist here (50119), try it in the other "
            "regions. Default: ask.",
            show_default=False,
        ),
    ] = None,
    fix: Annotated[
        bool | None,
        typer.Option(
            "--fix/--no-fix",
            help="Delete keys the vault holds for accounts that no longer exist (left by an "
            "interrupted removal) without asking, or never. Default: ask in a terminal.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Diagnose accounts: reachability, clock offset, key validity, permissions, IP binding.

    Also checks that every key in the vault belongs to an account, and offers to delete one
    that does not.
    """
    import asyncio

    from keyfolio.services.accounts import list_accounts
    from keyfolio.services.doctor import Check, diagnose

    app_ = state.app()
    failed = _doctor_vault(fix)
    names = (
        [account] if account else [spec.name for spec in list_accounts(app_) if not spec.is_manual]
    )
    if not names:
        console.print("No accounts to check. Link one with `keyfolio account add okx --name main`.")
        if failed:
            raise typer.Exit(1)
        return

    def confirm(question: str) -> bool:
        if probe_regions is not None:
            return probe_regions
        if not typer.get_text_stream("stdin").isatty():
            err_console.print(f"{question} Not asked: no terminal. Use --probe-regions.")
            return False
        return typer.confirm(question, default=False)

    for name in names:
        try:
            checks = asyncio.run(diagnose(app_, name, confirm_probe=confirm))
        except KeyfolioError as exc:
            if account:  # the one account asked for: a plain Error + Hint
                raise
            checks = [Check("account", "fail", exc.message, exc.hint)]
        failed |= _print_checks(f"doctor: {name}", checks)
    if failed:
        raise typer.Exit(1)


def _print_checks(title: str, checks: list[Check]) -> bool:
    """One table of checks; True if any failed."""
    table = Table("check", "result", "detail", "hint", title=title)
    colours = {"ok": "green", "warn": "yellow", "fail": "red"}
    for check in checks:
        table.add_row(
            check.name,
            f"[{colours[check.status]}]{check.status}[/]",
            escape(check.detail),
            escape(check.hint or ""),
        )
    console.print(table)
    return any(check.status == "fail" for check in checks)


def _doctor_vault(fix: bool | None) -> bool:
    """Keys without an account: report them and delete them if allowed. True if any is left."""
    from keyfolio.services.doctor import orphan_keys, remove_orphan_keys, vault_checks

    app_ = state.app()
    if not app_.has_vault():
        return False
    orphans = orphan_keys(app_)
    removed: list[str] = []
    if orphans:
        listing = ", ".join(f"'{name}'" for name in orphans)
        question = f"The vault holds keys no account uses: {listing}. Delete them from the vault?"
        if fix is None and not typer.get_text_stream("stdin").isatty():
            err_console.print(f"{question} Not asked: no terminal. Use --fix to delete them.")
        elif fix or (fix is None and typer.confirm(question, default=False, err=True)):
            removed = remove_orphan_keys(app_, orphans)
    return _print_checks("doctor: vault", vault_checks(orphans, removed))


def exchanges_command(
    as_json: Annotated[bool, typer.Option("--json", help="Every exchange as JSON.")] = False,
) -> None:
    """List the supported exchanges: first-class ones (every balance source, a permission check,
    history, live updates, tested against keyfolio's own sandbox) first, then every other ccxt
    exchange (one balance through ccxt, no permission check, untested)."""
    from keyfolio.exchanges.catalog import credential_label, list_exchanges

    infos = list_exchanges()
    if as_json:
        typer.echo(json.dumps([
            {
                "id": info.id, "name": info.name, "first_class": info.first_class,
                "alias_of": info.alias_of,
                "credentials": [credential_label(f, info.id) for f in info.required_credentials],
                "sources": list(info.source_labels) or ["one balance"],
                "permission_check": info.has_permission_check, "live": info.live,
                "tested_offline": info.verified_offline,
            }
            for info in infos
        ], indent=2))  # fmt: skip
        return
    table = Table(
        "id", "name", "credentials", "live", "balance sources",
        title="First-class: every source, a permission check, history, tested on a sandbox",
        title_justify="left",
    )  # fmt: skip
    for info in (info for info in infos if info.first_class):
        table.add_row(
            info.id,
            info.name,
            ", ".join(credential_label(f, info.id) for f in info.required_credentials),
            info.live,
            ", ".join(info.source_labels),
        )
    console.print(table)
    generic = [info.id for info in infos if not info.first_class]
    console.print(
        f"\n[bold]Generic[/] ({len(generic)} more ccxt exchanges): one balance through ccxt, no "
        "permission check (linking warns), no history, polling, untested against keyfolio's "
        "sandbox. `keyfolio account add ID` asks for the credentials the exchange needs.\n"
        + ", ".join(generic),
        soft_wrap=False,
    )


def demo_command() -> None:
    """Run the offline demo: a refused key, a linked one, a sync, a trade, the 24h change, P/L.

    It uses a temporary data directory (KEYFOLIO_HOME is ignored) unless --home names a new
    one, so your own data is never touched.
    """
    import asyncio

    from keyfolio.cli.demo import run_demo

    home = state.home if state.home_explicit else None
    if home is not None and any((home / name).exists() for name in ("vault.bin", "keyfolio.db")):
        raise UsageError(
            f"{home} already holds keyfolio data; the demo will not touch it",
            hint="Run `keyfolio demo` without --home (it uses a temporary directory), "
            "or give --home a new directory.",
        )
    asyncio.run(run_demo(home, debug=state.debug))
