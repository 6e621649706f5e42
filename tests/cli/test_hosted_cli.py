"""`keyfolio worker` and `keyfolio scheduler` outside hosted mode, their help, the password
file, and that local commands never load the task queue's libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import PASSWORD, Runner

QUEUE_LIBRARIES = ("dramatiq", "redis", "limits")


@pytest.mark.parametrize("command", ["worker", "scheduler"])
def test_without_a_broker_the_hosted_commands_say_how_to_turn_it_on(
    tmp_path: Path, command: str
) -> None:
    result = Runner(tmp_path / "home")(command)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: ")
    assert "KEYFOLIO_BROKER_URL is not set" in result.stderr
    assert "Hint: Set KEYFOLIO_BROKER_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_a_shared_database_the_worker_refuses(tmp_path: Path) -> None:
    result = Runner(tmp_path / "home")(
        "worker", env={"KEYFOLIO_BROKER_URL": "redis://127.0.0.1:1/0"}
    )
    assert result.returncode == 2 and "KEYFOLIO_DATABASE_URL is not set" in result.stderr


@pytest.mark.parametrize(
    ("command", "options"),
    [("worker", ["--concurrency"]), ("scheduler", ["--interval", "--jitter", "--once"])],
)
def test_the_hosted_commands_have_help(tmp_path: Path, command: str, options: list[str]) -> None:
    result = Runner(tmp_path / "home")(command, "--help")
    assert result.returncode == 0
    for option in options:
        assert option in result.stdout


def test_a_password_file_gives_the_vault_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyfolio.cli._context import prompt_password
    from keyfolio.errors import ConfigError

    secret_file = tmp_path / "vault-password"
    secret_file.write_text(PASSWORD + "\n")
    monkeypatch.setenv("KEYFOLIO_PASSWORD_FILE", str(secret_file))
    assert prompt_password(confirm=False) == PASSWORD
    monkeypatch.setenv("KEYFOLIO_PASSWORD", "from-the-environment")  # the variable wins
    assert prompt_password(confirm=False) == "from-the-environment"
    monkeypatch.delenv("KEYFOLIO_PASSWORD")
    for bad in (tmp_path / "missing", tmp_path / "empty"):
        if bad.name == "empty":
            bad.write_text("\n")
        monkeypatch.setenv("KEYFOLIO_PASSWORD_FILE", str(bad))
        with pytest.raises(ConfigError) as caught:
            prompt_password(confirm=False)
        assert str(bad) in caught.value.message and caught.value.exit_code == 2


@pytest.mark.parametrize("args", [("show",), ("worker", "--help"), ("scheduler",)])
def test_local_commands_never_import_the_queue_libraries(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    code = (
        "import sys\n"
        "from keyfolio.cli.main import run\n"
        "try:\n"
        f"    run(['--home', {str(tmp_path / 'home')!r}, *{list(args)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({QUEUE_LIBRARIES!r})))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "error::ResourceWarning"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr
