"""`keyfolio vault change-password`."""

from __future__ import annotations

import os

import typer

from keyfolio.cli._context import console, err_console, state

__all__ = ["app"]

app = typer.Typer(help="The encrypted vault that holds your API keys.", no_args_is_help=True)


@app.command("change-password")
def change_password() -> None:
    """Change the vault password (asks for the current one, then the new one twice).

    Non-interactive use: KEYFOLIO_PASSWORD (current) and KEYFOLIO_NEW_PASSWORD (new).
    """
    vault = state.app().vault()
    new = os.environ.get("KEYFOLIO_NEW_PASSWORD")
    if not new:
        err_console.print("Choose the new vault password.")
        new = str(
            typer.prompt("New vault password", hide_input=True, confirmation_prompt=True, err=True)
        )
    vault.change_password(new)
    console.print("Vault password changed.")
