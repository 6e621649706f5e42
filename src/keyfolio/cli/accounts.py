"""`keyfolio account add|list|remove|rotate|move|import-balance`."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from keyfolio.cli._context import (
    console,
    err_console,
    prompt_secret,
    read_secret_file,
    state,
)
from keyfolio.domain.accounts import Credentials, Region
from keyfolio.domain.money import format_amount
from keyfolio.errors import UsageError

if TYPE_CHECKING:
    from keyfolio.services.accounts import LinkReport

__all__ = ["app", "check_name", "print_link_report", "read_credentials"]

app = typer.Typer(help="Link, list and manage exchange accounts.", no_args_is_help=True)

ENV_NAMES = {
    "apiKey": "KEYFOLIO_API_KEY",
    "secret": "KEYFOLIO_API_SECRET",
    "password": "KEYFOLIO_API_PASSPHRASE",
}


def _env_name(field: str) -> str:
    return ENV_NAMES.get(field) or "KEYFOLIO_API_" + re.sub(r"(?<!^)([A-Z])", r"_\1", field).upper()


SecretFile = Annotated[
    Path | None,
    typer.Option(
        "--secret-file",
        help="Read the secret (a multi-line private key, e.g. Coinbase's PEM or its downloaded "
        "cdp_api_key.json) from this file, once; keyfolio keeps only the encrypted copy in "
        "its vault.",
        show_default=False,
        dir_okay=False,
    ),
]


def read_credentials(exchange_id: str, *, secret_file: Path | None = None) -> Credentials:
    """Ask for every credential the exchange requires: env variables or hidden prompts (a
    multi-line one for a PEM secret), or the secret from ``secret_file``."""
    from keyfolio.services.accounts import credential_fields, secret_is_multiline

    multiline = secret_is_multiline(exchange_id)
    if secret_file is not None and not multiline:
        raise UsageError(
            f"--secret-file is for secrets that are multi-line keys; the {exchange_id} secret "
            "is one line",
            hint="Set KEYFOLIO_API_SECRET, or paste the secret at the hidden prompt.",
        )
    fields = {}
    for field, label in credential_fields(exchange_id):
        if field == "secret" and secret_file is not None:
            fields[field] = read_secret_file(secret_file, label, _env_name(field))
        else:
            fields[field] = prompt_secret(
                label, _env_name(field), multiline=multiline and field == "secret"
            )
    return Credentials(fields=fields)


def check_name(name: str, *, what: str = "account") -> None:
    """Account and portfolio names (the services' rule; imported lazily)."""
    from keyfolio.services.accounts import check_name as check

    check(name, what=what)


def print_link_report(report: LinkReport, *, verb: str = "Linked") -> None:
    """Show what linking found, per source."""
    from keyfolio.services.view import source_label

    spec, key = report.spec, report.key
    perms = ", ".join(sorted(key.permissions)) if key.verified else "not verifiable"
    console.print(
        f"{verb} [bold]{spec.name}[/] ({spec.exchange}, region {spec.region.value}"
        f"{', demo' if spec.demo else ''}) in portfolio '{spec.portfolio}'. "
        f"Key permissions: {perms}."
    )
    table = Table("source", "status", "assets", "details")
    for result in report.results:
        assets = ", ".join(
            f"{asset} {format_amount(amount)}" for asset, amount in sorted(result.amounts.items())
        )
        detail = assets or "-"
        if not result.is_ok:
            detail = f"{result.error or ''} {('— ' + result.hint) if result.hint else ''}".strip()
        table.add_row(
            source_label(spec.exchange, result.source),
            result.status.value,
            str(len(result.amounts)),
            escape(detail),
        )
    console.print(table)
    for note in report.notes:
        console.print(note)
    for warning in report.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(warning)}")


@app.command("add")
def add(
    exchange: Annotated[
        str, typer.Argument(help="Exchange id: okx, or any ccxt id (see `keyfolio exchanges`).")
    ],
    name: Annotated[
        str, typer.Option("--name", help="A name for this account.", show_default=False)
    ],
    portfolio: Annotated[str, typer.Option(help="Portfolio to put it in.")] = "main",
    region: Annotated[
        Region,
        typer.Option(
            help="OKX region of the key: global (www.okx.com), eea (my.okx.com) "
            "or us (app.okx.com)."
        ),
    ] = Region.GLOBAL,
    demo: Annotated[bool, typer.Option("--demo", help="An OKX Demo Trading key.")] = False,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            help="Override the API host (REST and WebSocket), e.g. a local sandbox.",
            show_default=False,
        ),
    ] = None,
    secret_file: SecretFile = None,
) -> None:
    """Link an account with a READ-ONLY API key and import its balances.

    The key, secret and passphrase are asked for with hidden prompts, or read from
    KEYFOLIO_API_KEY, KEYFOLIO_API_SECRET and KEYFOLIO_API_PASSPHRASE. A multi-line secret (a
    PEM private key, as Coinbase's) is pasted whole at its prompt, or read with --secret-file.
    Keys that can trade or withdraw are refused. Nothing is stored unless every check passes.
    """
    from keyfolio.services.accounts import account_spec, link_account

    spec = account_spec(
        exchange=exchange, name=name, region=region, demo=demo, api_url=api_url, portfolio=portfolio
    )
    if spec.exchange != exchange.lower():
        err_console.print(f"Notice: {exchange} is OKX with --region {spec.region.value}.")
    exchange = spec.exchange
    app_ = state.app()
    credentials = read_credentials(exchange, secret_file=secret_file)
    report = asyncio.run(link_account(app_, spec, credentials))
    print_link_report(report)
    console.print("Run `keyfolio show` to see the portfolio, `keyfolio sync` to refresh it.")


@app.command("list")
def list_(
    portfolio: Annotated[str | None, typer.Option(help="Only this portfolio.")] = None,
) -> None:
    """List accounts: status, last sync, sources and the import flag."""
    from keyfolio.services.accounts import list_accounts
    from keyfolio.services.view import source_label

    app_ = state.app()
    specs = list_accounts(app_, portfolio=portfolio)
    with app_.db().session(read_only=True) as store:
        states = store.source_states()
    table = Table(
        "name", "exchange", "region", "portfolio", "import", "status", "last sync", "sources"
    )
    for spec in specs:
        mine = [s for s in states if s.account == spec.name]
        bad = [
            f"{source_label(spec.exchange, s.source)}: {s.status.value}"
            for s in mine
            if s.status.value != "ok"
        ]
        sources = ", ".join(bad) if bad else (f"all {len(mine)} ok" if mine else "-")
        table.add_row(
            spec.name,
            spec.exchange,
            spec.region.value + (" demo" if spec.demo else ""),
            spec.portfolio,
            "on" if spec.import_balance else "off",
            spec.status,
            spec.last_sync.strftime("%Y-%m-%d %H:%M UTC") if spec.last_sync else "never",
            sources or "-",
        )
    if not specs:
        console.print("No accounts yet. Link one with `keyfolio account add okx --name main`.")
        return
    console.print(table)


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="Account to remove.")]) -> None:
    """Remove an account and wipe its secret from the vault."""
    from keyfolio.services.accounts import remove_account

    spec = remove_account(state.app(), name)
    console.print(f"Removed account '{name}' and wiped its key from the vault.")
    if spec.exchange == "okx":
        console.print(
            "The key still exists at OKX: delete it in Profile > API Management "
            "(the trash icon next to the key) so it can never be used again."
        )
    else:
        console.print(f"The key still exists at {spec.exchange}: delete it in its API settings.")


@app.command("rotate")
def rotate(
    name: Annotated[str, typer.Argument(help="Account whose key to replace.")],
    secret_file: SecretFile = None,
) -> None:
    """Replace an account's key: the new one is validated before the old one is swapped out.

    The new key is asked for as by `account add` (prompts, KEYFOLIO_API_*, --secret-file)."""
    from keyfolio.services.accounts import get_account, refuse_manual, rotate_credentials

    app_ = state.app()
    spec = get_account(app_, name)
    refuse_manual(spec, "rotate")  # before asking for a key it would not use
    credentials = read_credentials(spec.exchange, secret_file=secret_file)
    report = asyncio.run(rotate_credentials(app_, name, credentials))
    print_link_report(report, verb="Rotated the key of")
    console.print("Delete the old key at the exchange now.")


@app.command("move")
def move(
    name: Annotated[str, typer.Argument(help="Account to move.")],
    portfolio: Annotated[
        str, typer.Option("--portfolio", help="Target portfolio.", show_default=False)
    ],
) -> None:
    """Move an account to another portfolio."""
    from keyfolio.services.accounts import get_account, move_account

    app_ = state.app()
    if get_account(app_, name).portfolio == portfolio:
        console.print(f"'{name}' is already in portfolio '{portfolio}'.")
        return
    move_account(app_, name, portfolio)
    console.print(f"Moved '{name}' to portfolio '{portfolio}'.")


@app.command("import-balance")
def import_balance(
    name: Annotated[str, typer.Argument(help="Account.")],
    switch: Annotated[str, typer.Argument(help="on or off.", metavar="on|off")],
) -> None:
    """Switch "Import Balance": off keeps the account linked but out of the portfolio's totals."""
    from keyfolio.services.accounts import import_balance as set_import

    switch = switch.lower()
    if switch not in {"on", "off"}:
        raise UsageError(
            f"expected on or off, got {switch!r}", hint=f"keyfolio account import-balance {name} on"
        )
    set_import(state.app(), name, switch == "on")
    console.print(f"Import Balance is {switch} for '{name}'.")
