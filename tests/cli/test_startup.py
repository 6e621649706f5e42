"""Start-up: a command imports only what it uses (the cause of a fast start, never its time)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import cli_support
import pytest
from cli_support import Runner

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.services.context import App

PASSWORD = "pw-startup-3e7"

MODULES = (
    "import json, sys\n"
    "from keyfolio.cli.main import app, run\n"
    "app._add_completion = {completion}\n"
    "code = 0\n"
    "try:\n"
    "    run({args!r})\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "print(json.dumps([code, sorted(sys.modules)]))\n"
)


def _run(
    home: Path, args: list[str], *, completion: bool = True, password: str = PASSWORD
) -> tuple[int, set[str]]:
    """The exit code of ``keyfolio ARGS`` in a fresh interpreter, and the modules it held."""
    code = MODULES.format(completion=completion, args=args)
    env = {"KEYFOLIO_HOME": str(home), "KEYFOLIO_PASSWORD": password, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    exit_code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    return exit_code, set(modules)


def _modules(home: Path, args: list[str], *, completion: bool = True) -> set[str]:
    """The modules a fresh interpreter holds after ``keyfolio ARGS``."""
    return _run(home, args, completion=completion)[1]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A data directory with a database and a vault (whose header `show` checks)."""
    app = App(settings=Settings(home=tmp_path / "home"), password=lambda **_: PASSWORD)
    app.vault(create=True).set("x", Credentials(fields={"apiKey": "k"}))
    app.db()
    app.close()
    return tmp_path / "home"


def _tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_show_imports_neither_the_network_nor_the_vault_crypto(home: Path) -> None:
    tops = _tops(_modules(home, ["show"]))
    assert "sqlalchemy" in tops  # it reads the database
    unused = {"ccxt", "aiohttp", "alembic", "cryptography", "argon2", "fastapi", "uvicorn"}
    assert tops & unused == set()


PYDANTIC = {"pydantic", "pydantic_core", "pydantic_settings", "dotenv"}


@pytest.mark.parametrize("args", [["show"], ["--help"], ["show", "--help"], ["show", "--json"]])
def test_commands_import_no_pydantic(home: Path, args: list[str]) -> None:
    """pydantic cost every command 0.1-0.15 s: ``Settings`` reads and checks ``KEYFOLIO_*``
    itself, and Typer is kept below 0.29, which parses each option through a pydantic
    ``TypeAdapter`` (pyproject.toml)."""
    exit_code, modules = _run(home, args)
    assert exit_code == 0
    assert _tops(modules) & PYDANTIC == set()


def test_a_sync_imports_no_pydantic(synced: Runner) -> None:
    """A one-account sync against the sandbox (it exits 0: the whole sync ran) imports ccxt and
    aiohttp, never pydantic."""
    exit_code, modules = _run(synced.home, ["sync"], password=cli_support.PASSWORD)
    assert exit_code == 0
    assert {"ccxt", "aiohttp"} <= _tops(modules)
    assert _tops(modules) & PYDANTIC == set()


def test_a_bad_setting_is_reported_without_pydantic(home: Path) -> None:
    """A refused ``KEYFOLIO_*`` value is a ``ConfigError`` of keyfolio's own (exit 2)."""
    code = MODULES.format(completion=True, args=["show"])
    env = {"KEYFOLIO_HOME": str(home), "KEYFOLIO_LOG_BACKUPS": "0", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    exit_code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert exit_code == 2
    assert "Error: invalid setting: KEYFOLIO_LOG_BACKUPS: must be at least 1, not 0" in done.stderr
    assert _tops(set(modules)) & PYDANTIC == set()


def test_show_with_an_account_imports_no_account_use_case(tmp_path: Path) -> None:
    """`show` names each source as its venue does (``source_label``), but never imports the
    account use cases behind linking and syncing (the history import, pricing, snapshots)."""
    app = App(settings=Settings(home=tmp_path / "home"), password=lambda **_: PASSWORD)
    with app.db().session() as store:
        store.add_account(spec=AccountSpec(exchange="okx", name="main", api_url="http://x.invalid"))
        store.record_sync(
            name="main",
            results=[SourceResult(Source.TRADING, SourceStatus.OK, {"BTC": Decimal("1")})],
            synced_at=datetime.now(UTC),
        )
    app.close()
    modules = _modules(tmp_path / "home", ["show"])
    assert "keyfolio.services.view" in modules
    used = {"keyfolio.services.accounts", "keyfolio.services.imports", "keyfolio.services.pricing"}
    assert modules & used == set()


def test_shell_completion_costs_show_no_import(home: Path) -> None:
    assert _modules(home, ["show"]) == _modules(home, ["show"], completion=False)


def test_shell_completion_is_offered() -> None:
    """Typed in bash (Typer detects the shell that started the command: under `make` alone it
    would find `sh`, which has no completion)."""
    command = f'"{sys.executable}" -c "from keyfolio.cli.main import run; run()" --show-completion'
    done = subprocess.run(
        ["bash", "-c", f"{command}; exit $?"],  # two commands: bash does not exec the first
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )
    assert done.returncode == 0, done.stderr
    assert "_keyfolio_completion" in done.stdout and "complete " in done.stdout


def test_a_command_imports_only_its_own_cli_module(home: Path) -> None:
    modules = _modules(home, ["show"])
    cli = {name for name in modules if name.startswith("keyfolio.cli.")}
    assert cli == {"keyfolio.cli.main", "keyfolio.cli._context", "keyfolio.cli.views"} | (
        cli & {"keyfolio.cli.render"}
    )
    assert "keyfolio.cli.serve" not in modules and "keyfolio.cli.sandbox" not in modules
    everything = _modules(home, ["--help"])
    assert {"keyfolio.cli.serve", "keyfolio.cli.accounts"} <= everything  # help lists them all
