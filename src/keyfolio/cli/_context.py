"""Shared CLI state: consoles, global options, password and credential prompts, secret files."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from keyfolio.errors import ConfigError, UsageError, VaultLockedError
from keyfolio.logging import register_secret

if TYPE_CHECKING:
    from keyfolio.config import Settings
    from keyfolio.services.context import App

__all__ = [
    "CliState",
    "console",
    "err_console",
    "prompt_password",
    "prompt_secret",
    "read_secret_file",
    "state",
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class CliState:
    """Global options, filled in by the Typer callback."""

    home: Path | None = None
    home_explicit: bool = False  # --home on the command line, not KEYFOLIO_HOME
    debug: bool = False
    _app: App | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """The settings of this invocation; a refused ``KEYFOLIO_*`` value is a ``ConfigError``."""
        from keyfolio.config import Settings

        if self.home is not None:
            return Settings(home=self.home, debug=self.debug)
        return Settings(debug=self.debug)

    def close(self) -> None:
        """Release the database engine, if one was opened."""
        if self._app is not None:
            self._app.close()
            self._app = None

    def open_home(self, settings: Settings, *, check_database: bool = False) -> App:
        """Make the data directory ready for a command, or raise the reason it is not.

        Creates and checks the directory, opens the rotated log file in it, and refuses a vault
        from a newer keyfolio; with ``check_database`` also opens (and migrates) the database
        now, for a long-running command (`serve`) that would otherwise open it on its first
        request. Every failure here is a ``KeyfolioError`` with a hint, exit 2.
        """
        from keyfolio.logging import setup_logging
        from keyfolio.services.context import App

        settings.ensure_home()
        setup_logging(
            debug=self.debug,
            log_file=settings.log_path,
            max_bytes=settings.log_max_bytes,
            backups=settings.log_backups,
        )
        app = App(settings=settings, password=prompt_password)
        app.check_formats()
        if check_database:
            try:
                app.db()
            finally:
                app.close()
        return app

    def app(self) -> App:
        """The services context for this invocation (settings, logging, DB, vault)."""
        if self._app is None:
            self._app = self.open_home(self.settings())
        return self._app


state = CliState()


def _interactive() -> bool:
    return sys.stdin.isatty()


def prompt_password(*, confirm: bool) -> str:
    """The vault password: KEYFOLIO_PASSWORD, else a hidden prompt (asked twice on creation)."""
    value = os.environ.get("KEYFOLIO_PASSWORD") or password_from_file()
    if value:
        if confirm and not value.strip():
            raise UsageError("KEYFOLIO_PASSWORD is blank", hint="Choose a real vault password.")
        register_secret(value)
        return value
    if not _interactive():
        raise VaultLockedError(
            "the vault is locked: KEYFOLIO_PASSWORD is not set and there is no terminal to ask",
            hint="Set KEYFOLIO_PASSWORD, or run the command in a terminal.",
        )
    if confirm:
        err_console.print("Creating a new vault for your API keys. Choose a password.")
    value = str(
        typer.prompt("Vault password", hide_input=True, confirmation_prompt=confirm, err=True)
    )
    if confirm and not value.strip():
        raise UsageError("the vault password is blank", hint="Choose a real vault password.")
    register_secret(value)
    return value


def password_from_file() -> str | None:
    """The vault password from the file named by KEYFOLIO_PASSWORD_FILE (a hosted worker's
    key file, e.g. a systemd credential), or None when that variable is unset."""
    name = os.environ.get("KEYFOLIO_PASSWORD_FILE")
    if not name:
        return None
    path = Path(name).expanduser()
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not text"
        raise ConfigError(
            f"KEYFOLIO_PASSWORD_FILE={path}: cannot read the vault password ({reason})",
            hint="Point KEYFOLIO_PASSWORD_FILE at a file (mode 0600) holding the password.",
        ) from None
    if not value:
        raise ConfigError(
            f"KEYFOLIO_PASSWORD_FILE={path} is empty", hint="Write the vault password in it."
        )
    return value


def prompt_secret(label: str, env_var: str, *, multiline: bool = False) -> str:
    """One credential: from ``env_var`` or a hidden prompt. Surrounding whitespace is stripped.

    ``multiline`` (a PEM key) reads every pasted line without echo, up to the key's END line.
    """
    raw = os.environ.get(env_var)
    if raw is None:
        if not _interactive():
            also = ", or give the file with --secret-file PATH" if multiline else ""
            raise UsageError(
                f"no {label}: {env_var} is not set and there is no terminal to ask",
                hint=f"Set {env_var}{also}, or run the command in a terminal to be prompted.",
            )
        raw = (
            _hidden_lines(label)
            if multiline
            else str(typer.prompt(label, hide_input=True, err=True))
        )
    value = raw.strip()
    if value != raw and not multiline:
        err_console.print(f"Notice: removed surrounding whitespace from the {label}.")
    if not value:
        raise UsageError(f"the {label} is empty", hint=f"Paste the {label} shown by the exchange.")
    return value


def _ends(lines: list[str]) -> bool:
    """Whether the pasted lines are a whole key: a PEM up to its END line, a JSON key file up
    to its closing brace, or any other key on one line."""
    first, last = lines[0], lines[-1]
    if first.startswith("-----BEGIN"):
        return last.startswith("-----END")
    if first.startswith("{"):
        return last.endswith("}")
    return True


def _hidden_lines(label: str) -> str:
    """A key pasted at the terminal, every line, without echo (``getpass`` reads one line and
    discards the rest of a paste)."""
    import termios

    fd = sys.stdin.fileno()
    before = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
    lines: list[str] = []
    try:
        err_console.print(f"{label} (input hidden; paste every line, it ends at the END line):")
        while not lines or not _ends(lines):
            line = sys.stdin.readline()
            if not line:  # end of input
                break
            text = line.strip()
            if text:
                lines.append(text)
            elif lines:  # an empty line ends a paste that has no END line
                break
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, before)
        err_console.print()  # the Enter that ended the paste was not echoed
    return "\n".join(lines)


_MAX_SECRET_FILE = 64 * 1024


def read_secret_file(path: Path, label: str, env_var: str) -> str:
    """A secret from a file the user names (``--secret-file``): read once, never copied.

    The path, not the content, appears in every message. A file other users can read gets a
    notice; a second source of the same secret (``env_var``) is refused as ambiguous.
    """
    if os.environ.get(env_var) is not None:
        raise UsageError(
            f"the {label} is given twice: by --secret-file and by {env_var}",
            hint=f"Unset {env_var}, or drop --secret-file.",
        )
    try:
        with path.open("rb") as handle:
            if path.is_file() and path.stat().st_mode & 0o077:
                err_console.print(
                    f"Notice: {path} can be read by other users of this machine; "
                    f"`chmod 600 {path}`, or delete it once the key is linked."
                )
            data = handle.read(_MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise UsageError(
            f"--secret-file {path}: cannot read it: {exc.strerror or exc}",
            hint="Give the path of the key file the exchange let you download.",
        ) from None
    if len(data) > _MAX_SECRET_FILE:
        raise UsageError(
            f"--secret-file {path} is larger than 64 KiB: not a key file",
            hint="Give the path of the key file the exchange let you download.",
        )
    try:
        value = data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise UsageError(
            f"--secret-file {path} is not text", hint="Give the key file, not another file."
        ) from None
    if not value:
        raise UsageError(f"--secret-file {path} is empty", hint="Give the key file.")
    register_secret(value)
    return value
