"""`keyfolio import csv`, `keyfolio trade add|list`, `keyfolio holding add|list|remove`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from keyfolio.cli._context import console, err_console, state
from keyfolio.cli.accounts import check_name
from keyfolio.domain.money import format_amount

__all__ = ["holding_app", "import_app", "trade_app"]

import_app = typer.Typer(
    help="Import history from files: keyfolio's CSV format, or an exchange's own export.",
    no_args_is_help=True,
)
trade_app = typer.Typer(
    help="Record trades by hand and list every stored trade.", no_args_is_help=True
)
holding_app = typer.Typer(
    help="Holdings kept elsewhere (cold wallet, another exchange), entered by hand.",
    no_args_is_help=True,
)


@import_app.command("csv")
def import_csv_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV file: keyfolio's format (time,pair,side,amount,price[,fee,fee_asset,"
            "trade_id]) or an exchange's own export (OKX fills or bills, Binance spot trade "
            "history); a zip holding one CSV and a gzip'd CSV are read as downloaded.",
            show_default=False,
        ),
    ],
    account: Annotated[
        str,
        typer.Option(
            "--account",
            help="Account the records belong to: the exchange account an export came from, or "
            "a manual one.",
            show_default=False,
        ),
    ],
) -> None:
    """Import trades (and an exchange export's bills) from a CSV file; see
    docs/import.md.

    The header tells the format: keyfolio's own columns, or an exchange's
    export, recognised by its columns (OKX fills and bills, as its archives and
    API name them; Binance's spot trade history). An OKX export keeps OKX's ids
    and a Binance one is matched to the API's trades by content, so nothing the
    API import (or the OKX archives) stored is counted twice. An export goes
    into an account of its exchange, or a manual one.

    All or nothing: every bad row is reported with its line number (a row cut
    short is one), a damaged zip or gzip is refused, and then nothing is
    imported. Amounts, prices and fees are at most 10^18 with at most 18 decimal
    places. Importing the same file again adds nothing.
    """
    from keyfolio.services.csv_import import import_csv

    report = import_csv(state.app(), file, account=account)
    if report.format == "keyfolio CSV":
        console.print(
            f"Imported {report.new} new trade(s) into '{account}' "
            f"({report.rows} row(s) read, {report.rows - report.new} already stored)."
        )
        return
    console.print(f"Recognised {report.format}: {report.rows} row(s) read.")
    console.print(f"Imported {report.summary()} into '{account}'; the rest was stored already.")
    if report.matched:
        console.print(
            f"{report.matched} trade(s) of the file are the same fills as trades imported from "
            "the exchange: kept once."
        )


@trade_app.command("add")
def trade_add(
    account: Annotated[
        str,
        typer.Option(
            "--account",
            help="Account of the trade; a manual account of that name is created if needed.",
            show_default=False,
        ),
    ],
    pair: Annotated[str, typer.Option("--pair", help="BASE-QUOTE, e.g. BTC-USDT.")],
    side: Annotated[str, typer.Option("--side", help="buy or sell.")],
    amount: Annotated[str, typer.Option("--amount", help="Amount of the base asset, e.g. 0.1.")],
    price: Annotated[str, typer.Option("--price", help="Price in the quote asset, e.g. 60000.")],
    fee: Annotated[str, typer.Option("--fee", help="Fee paid (a rebate is negative).")] = "0",
    fee_asset: Annotated[
        str | None,
        typer.Option("--fee-asset", help="Asset the fee was paid in (default: the quote)."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="When, ISO 8601 with timezone, e.g. 2025-01-02T10:00:00Z (default: now).",
            show_default=False,
        ),
    ] = None,
    trade_id: Annotated[
        str | None,
        typer.Option(
            "--id", help="Your own id, to record two identical trades.", show_default=False
        ),
    ] = None,
) -> None:
    """Record one trade by hand (for P/L). It does not change any holding.

    Amount, price and fee are at most 10^18 with at most 18 decimal places (docs/money.md).
    """
    from keyfolio.services.manual import add_trade

    check_name(account)
    trade, created = add_trade(
        state.app(),
        account=account,
        pair=pair,
        side=side,
        amount=amount,
        price=price,
        fee=fee,
        fee_asset=fee_asset,
        at=at,
        trade_id=trade_id,
    )
    if created:
        console.print(f"Created manual account '{account}'.")
    console.print(
        f"Recorded {trade.side.value} {format_amount(trade.amount)} {trade.base} at "
        f"{format_amount(trade.price)} {trade.quote} in '{account}' "
        f"({trade.at:%Y-%m-%d %H:%M:%S} UTC, id {trade.trade_id})."
    )


@trade_app.command("list")
def trade_list(
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account.", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List stored trades (imported, from CSV and entered by hand), oldest first."""
    from keyfolio.services.manual import list_trades

    trades = list_trades(state.app(), account=account)
    if as_json:
        rows = [
            {
                "account": t.account,
                "id": t.trade_id,
                "at": t.at.isoformat().replace("+00:00", "Z"),
                "pair": f"{t.base}-{t.quote}",
                "side": t.side.value,
                "amount": format_amount(t.amount),
                "price": format_amount(t.price),
                "fee": format_amount(t.fee),
                "fee_asset": t.fee_asset,
                "origin": t.origin,
            }
            for t in trades
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not trades:
        console.print(
            "No trades yet. Run `keyfolio sync`, `keyfolio import csv FILE --account NAME` "
            "or `keyfolio trade add`."
        )
        return
    table = Table("time (UTC)", "account", "pair", "side", "amount", "price", "fee", "origin")
    for t in trades:
        fee = f"{format_amount(t.fee)} {t.fee_asset}" if t.fee_asset else format_amount(t.fee)
        table.add_row(
            f"{t.at:%Y-%m-%d %H:%M:%S}",
            escape(t.account),
            f"{t.base}-{t.quote}",
            t.side.value,
            format_amount(t.amount),
            format_amount(t.price),
            fee,
            t.origin,
        )
    console.print(table)


@holding_app.command("add")
def holding_add(
    asset: Annotated[str, typer.Argument(help="Asset code, e.g. BTC.")],
    amount: Annotated[
        str, typer.Argument(help="Amount to add, e.g. 0.25 (at most 10^18, 18 decimal places).")
    ],
    account: Annotated[
        str, typer.Option("--account", help="Manual account to keep it in (created if needed).")
    ] = "manual",
    portfolio: Annotated[
        str | None,
        typer.Option(
            "--portfolio", help="Portfolio of a new account (default main).", show_default=False
        ),
    ] = None,
) -> None:
    """Add an amount of an asset held elsewhere; `keyfolio show` counts it after this."""
    from keyfolio.services.manual import add_holding

    check_name(account)
    total, created = add_holding(
        state.app(), asset=asset, amount=amount, account=account, portfolio=portfolio
    )
    if created:
        console.print(f"Created manual account '{account}' (no key, never synced).")
    console.print(f"'{account}' now holds {format_amount(total)} {asset.strip().upper()}.")


@holding_app.command("list")
def holding_list(
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account.", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the holdings of the manual accounts."""
    from keyfolio.services.manual import list_holdings

    found = list_holdings(state.app(), account=account)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    name: {asset: format_amount(v) for asset, v in sorted(amounts.items())}
                    for name, amounts in found.items()
                },
                indent=2,
            )
        )
        return
    rows = [(n, a, v) for n, amounts in found.items() for a, v in sorted(amounts.items())]
    if not rows:
        console.print("No manual holdings. Add one with `keyfolio holding add BTC 0.5`.")
        return
    table = Table("account", "asset", "amount")
    for name, asset, value in rows:
        table.add_row(escape(name), asset, format_amount(value))
    console.print(table)


@holding_app.command("remove")
def holding_remove(
    asset: Annotated[str, typer.Argument(help="Asset code, e.g. BTC.")],
    amount: Annotated[
        str | None, typer.Argument(help="Amount to take away (default: all of it).")
    ] = None,
    account: Annotated[str, typer.Option("--account", help="Manual account.")] = "manual",
) -> None:
    """Remove a holding from a manual account, or only part of it."""
    from keyfolio.services.manual import remove_holding

    left = remove_holding(state.app(), asset=asset, amount=amount, account=account)
    code = asset.strip().upper()
    if left:
        console.print(f"'{account}' now holds {format_amount(left)} {code}.")
    else:
        console.print(f"Removed {code} from '{account}'.")
    if amount is None:
        err_console.print("Trades recorded for it (if any) are kept; see `keyfolio trade list`.")
