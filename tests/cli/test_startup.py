"""Start-up: a command imports only what it uses (the cause of a fast start, never its time)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.services.context import App

PASSWORD = "pw-startup-3e7"

MODULES = (
    "import json, sys\n"
    "from keyfolio.cli.main import app, run\n"
    "app._add_completion = {completion}\n"
    "try:\n"
    "    run({args!r})\n"
    "except SystemExit:\n"
    "    pass\n"
    "print(json.dumps(sorted(sys.modules)))\n"
)

PLUGINS = (
    "from keyfolio.cli.main import run\n"
    "try:\n"
    "    run(['show'])\n"
    "except SystemExit:\n"
    "    pass\n"
    "from pydantic.plugin import _loader\n"
    "print('scanned' if _loader._plugins is not None else 'not scanned')\n"
)


def _modules(home: Path, args: list[str], *, completion: bool = True) -> set[str]:
    """The modules a fresh interpreter holds after ``keyfolio ARGS``."""
    code = MODULES.format(completion=completion, args=args)
    env = {"KEYFOLIO_HOME": str(home), "KEYFOLIO_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


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


def test_settings_are_read_without_pydantic_settings(home: Path) -> None:
    """pydantic-settings (its dotenv, TOML, CLI and cloud sources) was a third of `show`'s
    start-up above its own imports; ``Settings`` reads ``KEYFOLIO_*`` itself."""
    tops = _tops(_modules(home, ["show"]))
    assert tops & {"pydantic_settings", "dotenv"} == set()


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


def test_show_never_scans_for_pydantic_plugins(home: Path) -> None:
    """The first pydantic model built with plugins on reads the entry points of every installed
    distribution; ``Settings`` and Typer's adapters are built with them off."""
    env = {"KEYFOLIO_HOME": str(home), "KEYFOLIO_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", PLUGINS], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "not scanned", done.stderr


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
