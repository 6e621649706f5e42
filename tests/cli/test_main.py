"""The CLI skeleton: global options, the error boundary and lazy imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyfolio import __version__

HEAVY = ("ccxt", "sqlalchemy", "aiohttp", "alembic")


def keyfolio(
    *args: str, env: dict[str, str] | None = None, home: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    full_env.update(env or {})
    if home is not None:
        full_env["KEYFOLIO_HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-c", "from keyfolio.cli.main import run; run()", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=stdin,
        timeout=120,
    )
    assert "ResourceWarning" not in result.stderr, result.stderr  # a leak in the CLI itself
    return result


def test_version() -> None:
    result = keyfolio("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"keyfolio {__version__}"


def test_help_lists_commands() -> None:
    result = keyfolio("--help")
    assert result.returncode == 0
    for command in ("demo", "sync", "show", "doctor", "account", "portfolio", "sandbox", "vault"):
        assert command in result.stdout


def test_unknown_option_is_a_usage_error_with_hint() -> None:
    result = keyfolio("--no-such-option")
    assert result.returncode == 2
    assert "Error:" in result.stderr
    assert "Hint:" in result.stderr


def test_unknown_command_exit_2() -> None:
    result = keyfolio("frobnicate")
    assert result.returncode == 2
    assert "Error:" in result.stderr and "Hint:" in result.stderr


def test_keyfolio_error_gets_error_and_hint_without_traceback(tmp_path: Path) -> None:
    result = keyfolio("account", "import-balance", "nobody", "maybe", home=tmp_path)
    assert result.returncode == 2
    assert "Error: expected on or off" in result.stderr
    assert "Hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = keyfolio("--debug", "account", "import-balance", "nobody", "maybe", home=tmp_path)
    assert result.returncode == 2
    assert "Traceback" in result.stderr


@pytest.mark.parametrize("args", [("--help",), ("account", "--help"), ("show", "--help")])
def test_help_does_not_import_heavy_libraries(args: tuple[str, ...]) -> None:
    code = (
        "import sys\n"
        "from keyfolio.cli.main import run\n"
        "try:\n"
        f"    run({list(args)!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


# A command with a bug, added to the real app in a child process: the boundary's view of it.
_BUGGY = """
import sys
from keyfolio.cli import main
from keyfolio.cli._context import state

@main.app.command("crash")
def crash() -> None:
    state.app()  # the data directory and its log file are set up, as for every command
    {}["missing"]

main.run(sys.argv[1:])
"""


@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_is_reported_as_one_and_logged_at_error(tmp_path: Path, debug: bool) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    result = subprocess.run(
        [sys.executable, "-c", _BUGGY, *(["--debug"] if debug else []), "crash"],
        capture_output=True,
        text=True,
        env={**env, "KEYFOLIO_HOME": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode == 1
    assert "Error: unexpected KeyError: 'missing'" in result.stderr
    assert f"This is a bug in keyfolio. Its traceback is in {tmp_path / 'keyfolio.log'}" in (
        result.stderr.replace("\n", " ")
    )
    assert result.stderr.count("Traceback (most recent call last)") == (1 if debug else 0)
    log = (tmp_path / "keyfolio.log").read_text()
    assert "ERROR keyfolio.cli.main: unexpected error: a bug in keyfolio" in log
    assert "Traceback (most recent call last)" in log and "KeyError: 'missing'" in log


def test_a_full_disk_met_anywhere_is_not_called_a_bug(tmp_path: Path) -> None:
    code = (
        "import errno, sys\n"
        "from keyfolio.cli import main\n"
        "@main.app.command('fill')\n"
        "def fill() -> None:\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device', '/any/file')\n"
        "main.run(sys.argv[1:])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    result = subprocess.run(
        [sys.executable, "-c", code, "fill"],
        capture_output=True,
        text=True,
        env={**env, "KEYFOLIO_HOME": str(tmp_path)},
        timeout=120,
    )
    assert result.returncode == 2
    assert "Error: no space left to write the file /any/file" in result.stderr
    assert "Hint: Free some space" in result.stderr and "bug" not in result.stderr
