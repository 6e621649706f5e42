"""`keyfolio reconcile`: does the imported history explain the balances the exchange reports?"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from keyfolio.cli._context import console, state
from keyfolio.cli.render import refused_lines
from keyfolio.domain.money import format_amount

if TYPE_CHECKING:
    from keyfolio.analytics.reconcile import (
        AccountReconciliation,
        AssetReconciliation,
        ReconcileReport,
    )

__all__ = ["reconcile_command"]


def _difference(value: Decimal) -> str:
    if value > 0:
        return f"[yellow]+{format_amount(value)}[/]"
    if value < 0:
        return f"[red]{format_amount(value)}[/]"
    return "[green]0[/]"


def _explain(row: AssetReconciliation, since: str) -> str:
    """The cause in a few words, with the amounts that support it."""
    from keyfolio.analytics.reconcile import Cause
    from keyfolio.services.reconcile import CAUSE_LABEL

    if row.cause is None:
        return "[green]explained[/]"
    text = CAUSE_LABEL[row.cause]
    asset = row.asset
    if row.cause is Cause.HISTORY_BEFORE_WINDOW and row.opening:
        text += f" ({format_amount(row.opening)} {asset} held before the first bill)"
    elif row.cause is Cause.HISTORY_BEFORE_WINDOW:
        text += f" (before {since})"
    elif row.cause is Cause.UNPARSED_BILL_TYPE:
        kinds = ", ".join(row.unparsed_kinds)
        text += f" ({kinds}: {format_amount(row.unparsed)} {asset})"
    elif row.cause is Cause.EARN_INTEREST:
        text += f" ({format_amount(row.earn)} {asset} in earn)"
    return escape(text)


def _render(item: AccountReconciliation) -> None:
    since = f"{item.since:%Y-%m-%d}" if item.since else "nowhere"
    console.print(
        f"[bold]Account {escape(item.account)}[/]"
        + (f" (imported history since {since})" if item.since else " (no imported history)")
    )
    if not item.assets:
        console.print("  No balances and no history.")
        return
    table = Table("asset", "reported", "implied by history", "difference", "likely cause")
    for row in item.assets:
        table.add_row(
            escape(row.asset),
            format_amount(row.reported),
            format_amount(row.implied),
            _difference(row.difference),
            _explain(row, since),
        )
    console.print(table)


def _legend(report: ReconcileReport) -> None:
    from keyfolio.services.reconcile import CAUSE_LABEL, CAUSE_TEXT

    causes = {row.cause for _, row in report.differences}
    for cause, label in CAUSE_LABEL.items():
        if cause in causes:
            console.print(f"  [bold]{escape(label)}[/]: {escape(CAUSE_TEXT[cause])}.")


def reconcile_command(
    account: Annotated[
        str | None, typer.Option(help="Reconcile only this account.", show_default=False)
    ] = None,
    portfolio: Annotated[
        str | None,
        typer.Option(help="Reconcile the accounts of this portfolio (default: every account)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (decimals as strings).")
    ] = False,
) -> None:
    """Check the imported history against the balances each exchange reports.

    Per account and asset: the reported balance (last sync, every source),
    the balance the imported history implies (deposits - withdrawals
    +- trades - fees +- transfers +- earn rewards), the difference, and its
    likely cause: history before the window, an unparsed bill type, earn
    interest, an outflow the history lacks, or no history at all.

    A difference skews P/L: `keyfolio pnl` flags such amounts as of unknown
    basis. Reads the local database only; manual accounts are left out.
    """
    from keyfolio.services.reconcile import reconcile_accounts, reconcile_to_json

    result = reconcile_accounts(state.app(), account=account, portfolio=portfolio)
    if as_json:
        typer.echo(json.dumps(reconcile_to_json(result.report), indent=2))
        return
    for line in refused_lines(result.refused):
        console.print(line)
    if not result.report.accounts:
        console.print(
            "No exchange accounts to reconcile. Link one with `keyfolio account add`, then run "
            "`keyfolio sync` (balances and history)."
        )
        return
    for item in result.report.accounts:
        _render(item)
    differences = result.report.differences
    if differences:
        _legend(result.report)
        console.print(
            f"[yellow]{len(differences)} balance{'s' if len(differences) > 1 else ''} not "
            "explained by the imported history.[/] P/L counts such amounts as of unknown basis "
            "(`keyfolio pnl`); import older trades with `keyfolio import csv` to explain them."
        )
    else:
        console.print("[green]The imported history explains every reported balance.[/]")
