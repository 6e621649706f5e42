"""`keyfolio asset list|alias|unalias`: how each venue's asset codes map onto one asset."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from keyfolio.cli._context import console, state

__all__ = ["app"]

app = typer.Typer(
    help="Asset identity: each venue's codes map onto one canonical asset (Kraken XXBT is BTC, "
    "Binance LDBTC is BTC in Simple Earn). List the venues' tables, or override a code.",
    no_args_is_help=True,
)


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The venues' documented code tables, then your overrides (which win)."""
    from keyfolio.services.assets import list_aliases

    rows = list_aliases(state.app())
    if as_json:
        payload = [
            {"venue": r.venue, "code": r.code, "asset": r.asset, "source": r.source,
             "origin": r.origin, "note": r.note}
            for r in rows
        ]  # fmt: skip
        console.print_json(json.dumps(payload))
        return
    table = Table("venue", "code", "asset", "source", "from", "note")
    for row in rows:
        table.add_row(
            row.venue, row.code, row.asset, row.source or "-", row.origin, escape(row.note)
        )
    console.print(table)


@app.command("alias")
def alias(
    venue: Annotated[str, typer.Argument(help="The exchange id, e.g. binance.")],
    code: Annotated[str, typer.Argument(help="The code as the venue writes it, e.g. BETH.")],
    asset: Annotated[str, typer.Argument(help="The asset it is, e.g. ETH.")],
) -> None:
    """Count a venue's code as another asset from the next sync on (your override wins).

    Map only codes that name the same asset: a leveraged or liquid-staking token is its own
    asset with its own price.
    """
    from keyfolio.services.assets import add_alias

    row = add_alias(state.app(), venue, code, asset)
    console.print(
        f"{row.venue} {row.code} now counts as {row.asset}. Run `keyfolio sync` to apply it."
    )


@app.command("unalias")
def unalias(
    venue: Annotated[str, typer.Argument(help="The exchange id.")],
    code: Annotated[str, typer.Argument(help="The venue's code.")],
) -> None:
    """Remove your override of a code (the venue's own table applies again)."""
    from keyfolio.services.assets import remove_alias

    remove_alias(state.app(), venue, code)
    console.print(f"Removed your alias of {venue} {code.upper()}.")
