"""`keyfolio portfolio add|list|rename|remove`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from keyfolio.cli._context import console, state

__all__ = ["app"]

app = typer.Typer(
    help="Group accounts into portfolios. A portfolio named 'main' always exists.",
    no_args_is_help=True,
)


@app.command("add")
def add(name: Annotated[str, typer.Argument(help="Name of the new portfolio.")]) -> None:
    """Create a portfolio."""
    from keyfolio.services.portfolios import add_portfolio

    add_portfolio(state.app(), name)
    console.print(f"Created portfolio '{name}'.")


@app.command("list")
def list_() -> None:
    """List portfolios with their accounts."""
    from keyfolio.services.portfolios import list_portfolios

    table = Table("portfolio", "accounts", "created")
    for portfolio, names in list_portfolios(state.app()):
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
    from keyfolio.services.portfolios import rename_portfolio

    rename_portfolio(state.app(), old, new)
    console.print(f"Renamed portfolio '{old}' to '{new}'.")


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Portfolio to remove (must be empty).")],
) -> None:
    """Remove an empty portfolio. Move its accounts away first."""
    from keyfolio.services.portfolios import remove_portfolio

    remove_portfolio(state.app(), name)
    console.print(f"Removed portfolio '{name}'.")
