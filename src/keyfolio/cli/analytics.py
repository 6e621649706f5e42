"""`keyfolio pnl`: profit and loss per asset and in total (FIFO or average cost), and its tax
lots (`--lots`)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from keyfolio.cli._context import console, err_console, state
from keyfolio.cli.render import refused_lines
from keyfolio.domain.money import format_amount, format_usd

if TYPE_CHECKING:
    from keyfolio.analytics.lots import LotsReport
    from keyfolio.analytics.pnl import CostMethod, PnlReport

__all__ = ["pnl_command", "render_lots", "render_pnl"]


def _signed(value: Decimal | None) -> str:
    if value is None:
        return "[magenta]unknown[/]"
    text = format_usd(value)
    if value > 0:
        return f"[green]+{text}[/]"
    if value < 0:
        return f"[red]{text}[/]"
    return text


def render_pnl(report: PnlReport, *, portfolio: str) -> None:
    """The P/L table, totals, and every flag explained."""
    method = "FIFO" if report.method.value == "fifo" else "average cost"
    console.print(f"[bold]P/L of portfolio {escape(portfolio)}[/] ({method}, USD)")
    for line in refused_lines(report.refused):
        console.print(line)
    if not report.assets:
        console.print(
            "No trades, transfers or holdings to compute P/L from. Import the trade history "
            "with `keyfolio sync` (fills of the last 3 months) or `keyfolio import csv`."
        )
        return
    table = Table(
        "asset", "amount", "cost basis", "realized", "unrealized", "fees", "unknown basis"
    )
    for row in report.assets:
        marker = " [yellow]⚑[/]" if row.flagged else ""
        table.add_row(
            escape(row.asset) + marker,
            format_amount(row.amount),
            format_usd(row.cost_basis),
            _signed(row.realized),
            _signed(row.unrealized),
            format_usd(row.fees),
            format_amount(row.unknown_basis_amount) if row.unknown_basis_amount else "-",
        )
    console.print(table)
    console.print(
        f"[bold]Total realized: {_signed(report.total_realized)} USD   "
        f"unrealized: {_signed(report.total_unrealized)} USD[/]"
    )
    from keyfolio.services.analytics import BASIS_FLAGS, pnl_rankings_json

    ranks = pnl_rankings_json(report)
    for title, key in (
        ("Top P/L gainers", "top_pnl_gainers"),
        ("Top P/L losers", "top_pnl_losers"),
    ):
        if ranks[key]:
            listed = ", ".join(
                f"{escape(r['asset'])} {_signed(Decimal(r['pnl']))} USD" for r in ranks[key]
            )
            console.print(f"{title} (unrealized, held positions): {listed}")
    if report.flags:
        console.print(
            "[yellow]⚑[/] Incomplete P/L: the amounts below are [bold]not[/] counted as zero "
            "cost; they are left out of realized/unrealized P/L (see docs/analytics.md)."
        )
        for flag in report.flags:
            times = f" ({flag.count} times)" if flag.count > 1 else ""
            console.print(f"  - {escape(flag.message)}{times}")
        if any(flag.kind in BASIS_FLAGS for flag in report.flags):
            console.print(
                "  Unknown basis: run `keyfolio reconcile` to see which balances the imported "
                "history does not explain, and the likely cause."
            )
    console.print(
        "Fees are included in cost basis and realized P/L. Cash (USD, USDT, USDC, …) has no P/L."
    )


def _optional_usd(value: Decimal | None) -> str:
    return "[magenta]unknown[/]" if value is None else format_usd(value)


def render_lots(report: LotsReport, *, portfolio: str) -> None:
    """One row per lot a disposal used, and the total (equal to the realized P/L)."""
    method = "FIFO" if report.method.value == "fifo" else "average cost"
    console.print(f"[bold]Tax lots of portfolio {escape(portfolio)}[/] ({method}, USD)")
    if not report.lots:
        console.print("No disposals: nothing sold, swapped or paid as a fee in the history.")
        return
    table = Table(
        "asset", "account", "disposed", "acquired", "amount", "cost", "proceeds", "fee",
        "gain", "days",
    )  # fmt: skip
    for lot in report.lots:
        table.add_row(
            escape(lot.asset),
            escape(lot.account),
            f"{lot.disposed_at:%Y-%m-%d %H:%M}",
            f"{lot.acquired_at:%Y-%m-%d %H:%M}" if lot.acquired_at else "[magenta]unknown[/]",
            format_amount(lot.amount),
            _optional_usd(lot.cost),
            _optional_usd(lot.proceeds),
            format_usd(lot.fee),
            _signed(lot.gain),
            "-" if lot.holding_days is None else str(lot.holding_days),
        )
    console.print(table)
    console.print(
        f"[bold]Total gain: {_signed(report.total_gain)} USD[/] (= realized P/L of `keyfolio pnl`)"
    )
    if any(lot.gain is None for lot in report.lots):
        console.print(
            "[yellow]⚑[/] Rows with an unknown cost or proceeds are not in the total (see the "
            "flags of `keyfolio pnl`, and `keyfolio reconcile`)."
        )


def pnl_command(
    portfolio: Annotated[str, typer.Option(help="Portfolio to report on.")] = "main",
    method: Annotated[
        str, typer.Option(help="Cost basis method: fifo (default) or average.")
    ] = "fifo",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (decimals as strings).")
    ] = False,
    lots: Annotated[
        bool,
        typer.Option(
            "--lots",
            help="List the tax lots instead: per disposal, each lot used (acquired at, amount, "
            "cost, proceeds, fee, gain, holding days). Their gains add up to the realized P/L.",
        ),
    ] = False,
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            metavar="FILE",
            help="With --lots: also write the lots to FILE as CSV (exact decimals; replaces it).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Profit and loss per asset and in total, from the imported trades and transfers.

    Reads the local database only. An unknown cost basis is flagged,
    never taken as zero: `keyfolio reconcile` shows which balances the
    imported history does not explain, and why.

    With --lots: every disposal lot by lot (FIFO: each lot taken; average
    cost: each pool, dated at its mean acquisition), with its cost,
    proceeds, fee, gain and holding days; the gains add up to the
    realized P/L exactly. Columns: docs/analytics.md, "Tax lots".
    """
    from keyfolio.services.analytics import parse_method, pnl_report, pnl_to_json

    cost_method = parse_method(method)
    if csv_file is not None and not lots:
        from keyfolio.errors import UsageError

        raise UsageError(
            "--csv writes the tax lots.", hint="Add --lots: `keyfolio pnl --lots --csv FILE`."
        )
    if lots:
        _lots(portfolio, cost_method, as_json=as_json, csv_file=csv_file)
        return
    report = pnl_report(state.app(), portfolio=portfolio, method=cost_method)
    if as_json:
        typer.echo(json.dumps(pnl_to_json(report), indent=2))
        return
    render_pnl(report, portfolio=portfolio)


def _lots(portfolio: str, method: CostMethod, *, as_json: bool, csv_file: Path | None) -> None:
    from keyfolio.services.analytics import lots_report, lots_to_json, write_lots_csv

    report = lots_report(state.app(), portfolio=portfolio, method=method)
    if csv_file is not None:
        count = write_lots_csv(report, csv_file)
        (err_console if as_json else console).print(
            f"Wrote {count} lot{'s' if count != 1 else ''} to {escape(str(csv_file))}."
        )
    if as_json:
        typer.echo(json.dumps(lots_to_json(report), indent=2))
        return
    render_lots(report, portfolio=portfolio)
