"""The keyfolio command line: the Typer app, global options and the one error boundary.

Heavy libraries (ccxt, SQLAlchemy, aiohttp) are imported inside the commands that need them,
so `keyfolio --help` stays instant.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from keyfolio import __version__
from keyfolio.cli._context import err_console
from keyfolio.cli._context import state as _state
from keyfolio.errors import KeyfolioError, VaultDecryptError
from keyfolio.logging import QUIET, current_log_file, redact
from keyfolio.oserrors import translate_os_error

try:  # typer >= 0.20 vendors click as typer._click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

__all__ = ["COMMANDS", "app", "register", "run"]

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="keyfolio",
    help=(
        "keyfolio: a local-first crypto portfolio tracker.\n\n"
        "Link exchange accounts with READ-ONLY API keys (kept in an encrypted vault on this "
        "machine), import every balance, and see it valued. Start with `keyfolio demo`, "
        "then `keyfolio account add okx --name main`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"keyfolio {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar="KEYFOLIO_HOME",
            help="Data directory (database, vault, logs). Default: the platform's user data dir.",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Verbose logs (and `serve`'s access log) and tracebacks on errors."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Global options."""
    _state.home = home
    _state.debug = debug
    source = ctx.get_parameter_source("home")
    _state.home_explicit = source is not None and source.name == "COMMANDLINE"


COMMANDS: tuple[tuple[str, str, bool], ...] = (
    ("demo", "views:demo_command", False),
    ("account", "accounts:app", True),
    ("sync", "views:sync_command", False),
    ("show", "views:show_command", False),
    ("history", "values:values_command", False),
    ("pnl", "analytics:pnl_command", False),
    ("reconcile", "reconcile:reconcile_command", False),
    ("watch", "live:watch_command", False),
    ("serve", "serve:serve_command", False),
    ("worker", "hosted:worker_command", False),
    ("scheduler", "hosted:scheduler_command", False),
    ("portfolio", "portfolios:app", True),
    ("import", "imports:import_app", True),
    ("trade", "imports:trade_app", True),
    ("holding", "imports:holding_app", True),
    ("asset", "assets:app", True),
    ("doctor", "views:doctor_command", False),
    ("exchanges", "views:exchanges_command", False),
    ("vault", "vault:app", True),
    ("backup", "backup:backup_command", False),
    ("restore", "backup:restore_command", False),
    ("db", "values:db_app", True),
    ("sandbox", "sandbox:sandbox_command", False),
)
"""(name, ``module:attribute`` in ``keyfolio.cli``, is a group), in the order a new user meets
them (`keyfolio --help` lists them so)."""

_STOPPED_BY_SIGNALS = frozenset({"worker", "scheduler"})
"""The long-running commands SIGTERM and SIGINT stop cleanly at any moment: :func:`run` holds
the signals first thing, before any thread exists (:mod:`keyfolio.cli._signals`)."""

_registered: set[str] = set()


def register(only: str | None = None) -> None:
    """Add the commands to :data:`app`: just ``only`` when it names one (a command imports
    only its own module, and Typer builds only its options), else all of them."""
    for name, target, is_group in COMMANDS:
        if name in _registered or (only is not None and name != only):
            continue
        module_name, _, attribute = target.partition(":")
        found = getattr(importlib.import_module(f"keyfolio.cli.{module_name}"), attribute)
        if is_group:
            app.add_typer(found, name=name)
        else:
            app.command(name)(found)
        _registered.add(name)


def _command_of(args: list[str]) -> str | None:
    """The command ``args`` run, when it is one of :data:`COMMANDS` (past the global options),
    else None: the help, a typo (Click suggests the nearest name), or shell completion."""
    if any(name.startswith("_KEYFOLIO_COMPLETE") for name in os.environ):
        return None
    rest = iter(args)
    for arg in rest:
        if arg == "--home":
            next(rest, None)
        elif arg.startswith("--home=") or arg == "--debug":
            continue
        elif arg.startswith("-"):
            return None
        else:
            return arg if any(arg == name for name, _, _ in COMMANDS) else None
    return None


def _print_error(message: str, hint: str | None) -> None:
    message, hint = redact(message, patterns=False), redact(hint or "", patterns=False)
    err_console.print("[bold red]Error:[/] " + escape(message), highlight=False)
    if hint:
        err_console.print("[bold]Hint:[/] " + escape(hint), highlight=False)


def run(argv: list[str] | None = None) -> None:
    """Entry point of the `keyfolio` console script: the one error boundary.

    A ``KeyfolioError`` prints ``Error:``/``Hint:`` and exits with its code. An ``OSError`` of
    the machine (a full disk, a read-only data directory) is reported the same way (exit 2).
    Anything else is a bug: logged with its traceback at ERROR and reported as one (exit 1).
    """
    args = sys.argv[1:] if argv is None else argv
    command = _command_of(args)
    if command in _STOPPED_BY_SIGNALS:
        from keyfolio.cli._signals import hold_stop_signals

        hold_stop_signals()
    register(command)
    try:
        try:
            code = app(args=args, prog_name="keyfolio", standalone_mode=False)
        except BaseExceptionGroup as group:  # from a TaskGroup: report the most telling error
            raise _most_telling(group) from group
        finally:
            _state.close()
    except KeyfolioError as exc:
        _print_traceback()
        hint = exc.hint
        if isinstance(exc, VaultDecryptError) and os.environ.get("KEYFOLIO_PASSWORD") is not None:
            hint += " The password was read from KEYFOLIO_PASSWORD: check that variable."
        _print_error(exc.message, hint)
        raise SystemExit(exc.exit_code) from None
    except click_exceptions.NoArgsIsHelpError:
        raise SystemExit(0) from None  # typer has printed the help already
    except click_exceptions.UsageError as exc:
        _print_error(exc.format_message(), _usage_hint(exc))
        raise SystemExit(2) from None
    except typer.Abort:
        err_console.print("Aborted.")
        raise SystemExit(130) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        raise SystemExit(130) from None
    except OSError as exc:
        _report_os_error(exc)
    except Exception as exc:  # the boundary for bugs: reported as one, never as a user error
        _report_bug(exc)
    raise SystemExit(code if isinstance(code, int) else 0)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


def _most_telling(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """An interrupt first, then a bug (never hidden behind a user error), then the first."""
    leaves = _leaves(group)
    return next(
        (e for e in leaves if not isinstance(e, Exception)),
        next((e for e in leaves if not isinstance(e, KeyfolioError)), leaves[0]),
    )


def _report_os_error(exc: OSError) -> None:
    """A full disk or an unusable data directory, met outside the places that translate it."""
    from keyfolio.config import default_home

    what = f"the file {exc.filename}" if exc.filename else "a file"
    home = _state.home if _state.home is not None else default_home()
    error = translate_os_error(exc, what=what, home=home)
    if error is None:
        _report_bug(exc)
    assert error is not None
    if current_log_file() is not None:
        logger.warning("%s", error.message, exc_info=exc, extra=QUIET)
    _print_traceback()
    _print_error(error.message, error.hint)
    raise SystemExit(error.exit_code) from None


def _report_bug(exc: BaseException) -> NoReturn:
    log_file = current_log_file()
    if log_file is not None:  # with --debug the terminal shows this record, traceback included
        logger.error("unexpected error: a bug in keyfolio", exc_info=exc, extra=QUIET)
    if log_file is None or not _state.debug:
        _print_traceback()
    where = f"Its traceback is in {log_file}. " if log_file is not None else ""
    _print_error(
        f"unexpected {type(exc).__name__}: {exc}",
        f"This is a bug in keyfolio. {where}Run the command again with --debug and report "
        "the output.",
    )
    raise SystemExit(1) from None


def _print_traceback() -> None:
    """With --debug, print the current traceback (redacted) to stderr."""
    if _state.debug:
        err_console.print(redact(traceback.format_exc()), highlight=False, markup=False)


def _usage_hint(exc: click_exceptions.UsageError) -> str:
    command = exc.ctx.command_path if exc.ctx is not None else "keyfolio"
    return f"Run `{command} --help` to see the valid options."
