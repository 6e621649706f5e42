"""`keyfolio vault change-password`."""

from __future__ import annotations

import os
import sys

import typer

from keyfolio.cli._context import console, err_console, state
from keyfolio.errors import UsageError
from keyfolio.logging import register_secret

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
        if not sys.stdin.isatty():
            raise UsageError(
                "no new password: KEYFOLIO_NEW_PASSWORD is not set and there is no terminal to ask",
                hint="Set KEYFOLIO_NEW_PASSWORD, or run the command in a terminal.",
            )
        err_console.print("Choose the new vault password.")
        new = str(
            typer.prompt("New vault password", hide_input=True, confirmation_prompt=True, err=True)
        )
    if not new.strip():
        raise UsageError("the new vault password is blank", hint="Choose a real password.")
    register_secret(new)
    vault.change_password(new)
    console.print("Vault password changed.")
