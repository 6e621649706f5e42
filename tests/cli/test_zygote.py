"""The zygote's runs are what a real interpreter does: output, exit codes, environment, signals.

The CLI tests run `keyfolio` forked from a preloaded zygote (`zygote.py`); these tests hold it
to the behaviour of ``python -c "from keyfolio.cli.main import run; run()" ARGS``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import zygote
from cli_support import PASSWORD


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYFOLIO_")}
    env.update(KEYFOLIO_HOME=str(home), KEYFOLIO_PASSWORD=PASSWORD, **extra)
    return env


def _real(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", zygote._CODE, *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--version"], 0),
        (["portfolio", "list"], 0),
        (["show", "--json"], 0),
        (["no-such-command"], 2),
        (["account", "remove", "nobody", "--yes"], 2),
    ],
)
def test_a_forked_run_answers_like_a_real_interpreter(
    tmp_path: Path, argv: list[str], code: int
) -> None:
    if zygote._REAL:
        pytest.skip("KEYFOLIO_TEST_NO_ZYGOTE=1: every run is a real interpreter")
    env = _env(tmp_path / "home", COLUMNS="200")
    forked = zygote.run_keyfolio(argv, env=env)
    real = _real(argv, env)
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        real.returncode,
        real.stdout,
        real.stderr,
    )
    assert forked.returncode == code


def test_each_run_reads_its_own_environment(tmp_path: Path) -> None:
    narrow = zygote.run_keyfolio(["--help"], env=_env(tmp_path / "a", COLUMNS="50"))
    wide = zygote.run_keyfolio(["--help"], env=_env(tmp_path / "b", COLUMNS="150"))
    assert max(map(len, narrow.stdout.splitlines())) <= 50
    assert max(map(len, wide.stdout.splitlines())) > 50
    assert narrow.stdout == _real(["--help"], _env(tmp_path / "a", COLUMNS="50")).stdout


def test_a_different_interpreter_setting_gets_a_real_interpreter(tmp_path: Path) -> None:
    if zygote._REAL:
        pytest.skip("KEYFOLIO_TEST_NO_ZYGOTE=1: every run is a real interpreter")
    env = _env(tmp_path / "home")
    assert zygote._zygote_for(env) is not None
    env["PYTHONWARNINGS"] = "error"  # read at interpreter start: the zygote cannot apply it
    assert zygote._zygote_for(env) is None


def test_signals_and_exit_status_are_the_process_s_own(tmp_path: Path) -> None:
    """SIGINT stops `keyfolio sandbox` as Ctrl-C does; SIGKILL is reported as -9."""
    for sig, expected in ((signal.SIGINT, None), (signal.SIGKILL, -signal.SIGKILL)):
        proc = zygote.popen(["sandbox", "--port", "0"], env=_env(tmp_path / "home"))
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().startswith("keyfolio sandbox listening on")
            assert proc.poll() is None
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        if expected is None:  # what a real interpreter answers to the same Ctrl-C
            real = subprocess.Popen(
                [sys.executable, "-c", zygote._CODE, "sandbox", "--port", "0"],
                env=_env(tmp_path / "home"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            with real:
                assert real.stdout is not None
                real.stdout.readline()
                real.send_signal(sig)
                real.communicate(timeout=60)
            expected = real.returncode
        assert proc.returncode == expected, err
