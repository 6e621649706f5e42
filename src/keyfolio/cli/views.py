"""`keyfolio show`, `sync`, `doctor`, `exchanges` and `demo`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from keyfolio.cli._context import console, err_console, state
from keyfolio.cli.render import render_performance, render_view
from keyfolio.errors import KeyfolioError, KeyNotInRegionError, UsageError

if TYPE_CHECKING:
    from keyfolio.services.doctor import Check
    from keyfolio.services.sync import SyncOutcome, SyncReport

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
) -> None:
    """Refresh balances, prices and history of every account (or one).

    Each sync also records a snapshot of every balance source that was read (the value
    series behind `keyfolio history`) and imports new trades and transfers (the input of
    `keyfolio pnl`). Exit 1 if any account failed (or a bug stopped its history import); a
    failed account keeps its last good data. Exit 2 if this machine cannot store (a full disk,
    a locked database).
    """
    import asyncio

    from keyfolio.services.sync import sync_accounts

    app_ = state.app()
    names = [account] if account else None
    if as_json:
        report = asyncio.run(sync_accounts(app_, names=names, history=history))
    else:
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

            report = asyncio.run(
                sync_accounts(app_, names=names, progress=on_event, history=history)
            )
    if as_json:
        typer.echo(json.dumps(_report_json(report), indent=2))
    else:
        if not report.outcomes:
            console.print(
                "No accounts to sync. Link one with `keyfolio account add okx --name main`."
            )
        for outcome in report.outcomes:
            _print_outcome(outcome)
        if report.pricing_error is not None:
            err_console.print(
                f"[yellow]Prices not refreshed:[/] {escape(report.pricing_error.message)}"
            )
        _print_imports(report)
    if report.failed or report.has_bug:
        raise typer.Exit(1)


def _with_kept(hint: str) -> str:
    if "kept" in hint:
        return hint
    return f"{hint} Earlier data is kept, marked stale.".strip()


def _print_outcome(outcome: SyncOutcome) -> None:
    """Error + Hint for a failed account; a warning + hint per failed source of a partial one."""
    if outcome.error is not None:
        hint = outcome.error.hint
        if isinstance(outcome.error, KeyNotInRegionError):
            hint += (
                f" For this linked account: `keyfolio account remove {outcome.account}`, then "
                f"`keyfolio account add okx --name {outcome.account} --region REGION` "
                "(`keyfolio doctor --probe-regions` finds the region)."
            )
        err_console.print(f"[bold red]Error:[/] {outcome.account}: {escape(outcome.error.message)}")
        err_console.print(f"[bold]Hint:[/] {escape(_with_kept(hint))}")
        return
    failed = [r for r in outcome.results if not r.is_ok and r.status.value != "unsupported"]
    if outcome.status == "failed" and failed:
        first = failed[0]
        err_console.print(
            f"[bold red]Error:[/] {outcome.account}: no balance source could be read "
            f"({first.source.label}: {escape(first.error or '')})"
        )
        err_console.print(f"[bold]Hint:[/] {escape(_with_kept(first.hint or ''))}")
        return
    for result in failed:
        err_console.print(
            f"[yellow]Warning:[/] {outcome.account}/{result.source.label} {result.status.value}: "
            f"{escape(result.error or '')}"
        )
        if result.hint:
            err_console.print(
                f"[bold]Hint:[/] {escape(result.hint)} Its last good amounts are kept, "
                "marked stale; the portfolio shows as partial."
            )


def _account_error(outcome: SyncOutcome) -> tuple[str | None, str | None]:
    """The account-level error of a sync: its exception, else its first failed source."""
    if outcome.error is not None:
        return outcome.error.message, outcome.error.hint
    if outcome.status == "failed":
        failed = next((r for r in outcome.results if not r.is_ok), None)
        if failed is not None:
            return failed.error, failed.hint
    return None, None


def _print_imports(report: SyncReport) -> None:
    for imported in report.imports:
        if imported.skipped:
            continue
        if imported.total_new:
            console.print(f"{imported.account}: imported {imported.summary()}")
        for note in imported.progress.values():
            console.print(f"{imported.account}: {escape(note)}; it goes on at the next sync.")
        for error in imported.errors:
            err_console.print(
                f"[yellow]Warning:[/] {imported.account}: history import: {escape(error.message)}"
            )
            err_console.print(f"[bold]Hint:[/] {escape(error.hint)}")


def _report_json(report: SyncReport) -> dict[str, object]:
    from keyfolio.domain.money import format_amount

    return {
        "accounts": [
            {
                "name": o.account,
                "status": o.status,
                "error": _account_error(o)[0],
                "hint": _account_error(o)[1],
                "sources": [
                    {
                        "source": r.source.value,
                        "status": r.status.value,
                        "error": r.error,
                        "hint": r.hint,
                        "amounts": {a: format_amount(v) for a, v in sorted(r.amounts.items())},
                    }
                    for r in o.results
                ],
            }
            for o in report.outcomes
        ],
        "prices_error": report.pricing_error.message if report.pricing_error else None,
        "history": [
            {
                "account": imported.account,
                "new": {kind.value: count for kind, count in sorted(imported.new.items())},
                "skipped": imported.skipped,
                "unfinished": imported.unfinished,
                "progress": imported.progress,
                "errors": [{"error": e.message, "hint": e.hint} for e in imported.errors],
            }
            for imported in report.imports
        ],
    }


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
