"""`keyfolio backup FILE` and `keyfolio restore FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from keyfolio.cli._context import console, state

__all__ = ["backup_command", "restore_command"]


def backup_command(
    file: Annotated[
        Path, typer.Argument(help="The archive to write (mode 0600).", show_default=False)
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
) -> None:
    """Back up the database and the vault into one encrypted, authenticated file.

    The archive is encrypted under the vault password (KEYFOLIO_PASSWORD or a prompt) with
    Argon2id and AES-256-GCM, like the vault itself. The database is copied consistently even
    while `keyfolio serve` or a sync writes to it. SQLite only (see docs/backup.md).
    """
    from keyfolio.services.backup import create_backup

    report = create_backup(state.app(), file, overwrite=force)
    keys = f"{report.keys} key{'s' if report.keys != 1 else ''}"
    console.print(
        f"Backed up {report.accounts} account{'s' if report.accounts != 1 else ''} and {keys} "
        f"to {escape(str(report.path))} ({report.size:,} bytes, encrypted with the vault "
        "password).",
        soft_wrap=True,  # a path split over two lines cannot be copied
    )
    console.print(
        "Keep it off this machine. Restore it with "
        f"`keyfolio restore {escape(str(report.path))}` and the same password.",
        soft_wrap=True,
    )


def restore_command(
    file: Annotated[
        Path, typer.Argument(help="An archive written by `keyfolio backup`.", show_default=False)
    ],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the database and vault already in the data dir."),
    ] = False,
) -> None:
    """Restore the database and the vault from a `keyfolio backup` file.

    Asks for the password the backup was made with (KEYFOLIO_PASSWORD works). A modified or
    foreign file is refused, and nothing is replaced without --force. Everything is checked
    before anything is written; if writing fails, the previous data stays. Stop `keyfolio
    serve` and `keyfolio watch` on this data directory first.
    """
    from keyfolio.services.backup import restore_backup

    report = restore_backup(state.app(), file, force=force)
    replaced = (
        f" (replaced the previous {' and '.join(report.replaced)})" if report.replaced else ""
    )
    console.print(
        f"Restored {report.accounts} account{'s' if report.accounts != 1 else ''} and "
        f"{report.keys} key{'s' if report.keys != 1 else ''} from {escape(str(report.path))}, "
        f"made {report.created_at}{replaced}.",
        soft_wrap=True,
    )
    console.print("The vault password is the one the backup was made with. Run `keyfolio sync`.")
