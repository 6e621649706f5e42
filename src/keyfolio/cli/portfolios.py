"""`keyfolio portfolio add|list|rename|remove`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from keyfolio.cli._context import console, state
from keyfolio.cli.accounts import check_name

__all__ = ["app"]

app = typer.Typer(
    help="Group accounts into portfolios. A portfolio named 'main' always exists.",
    no_args_is_help=True,
)


@app.command("add")
def add(name: Annotated[str, typer.Argument(help="Name of the new portfolio.")]) -> None:
    """Create a portfolio."""
    check_name(name, what="portfolio")
    with state.app().db().session() as store:
        store.add_portfolio(name=name)
    console.print(f"Created portfolio '{name}'.")


@app.command("list")
def list_() -> None:
    """List portfolios with their accounts."""
    with state.app().db().session(read_only=True) as store:
        portfolios = store.list_portfolios()
        accounts = store.list_accounts()
    table = Table("portfolio", "accounts", "created")
    for portfolio in portfolios:
        names = [a.name for a in accounts if a.portfolio == portfolio.name]
        table.add_row(
            portfolio.name, ", ".join(names) or "-", portfolio.created_at.strftime("%Y-%m-%d")
        )
    console.print(table)


@app.command("rename")
def rename(
    old: Annotated[str, typer.Argument(help="Current name.")],
    new: Annotated[str, typer.Argument(help="New name.")],
) -> None:
    """Rename a portfolio."""
    check_name(new, what="portfolio")
    with state.app().db().session() as store:
        store.rename_portfolio(old=old, new=new)
    console.print(f"Renamed portfolio '{old}' to '{new}'.")


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Portfolio to remove (must be empty).")],
) -> None:
    """Remove an empty portfolio. Move its accounts away first."""
    with state.app().db().session() as store:
        store.remove_portfolio(name=name)
    console.print(f"Removed portfolio '{name}'.")
