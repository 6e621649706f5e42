"""The server's background runner: expected failures are warnings, bugs are logged as bugs."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from keyfolio.api.deps import ServerState
from keyfolio.api.live import LiveRunner
from keyfolio.config import Settings

PASSWORD = "runner-pw-3b7d"


async def _until(condition: object, runner: LiveRunner) -> None:
    async with asyncio.timeout(30):
        while not condition(runner):  # type: ignore[operator]
            await asyncio.sleep(0.01)


def _records(caplog: pytest.LogCaptureFixture, level: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "keyfolio.api.live" and r.levelname == level]


async def test_a_task_that_crashes_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def crash() -> None:
        raise RuntimeError("injected")

    task = asyncio.get_running_loop().create_task(crash(), name="keyfolio-live")
    await asyncio.wait([task])
    LiveRunner._log_end(task)
    (record,) = _records(caplog, "ERROR")
    assert "keyfolio-live task crashed" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


async def test_an_expected_failure_is_a_warning_and_the_server_polls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    (home / "keyfolio.db").mkdir(parents=True)  # the database cannot be opened
    state = ServerState(Settings(home=home), password=PASSWORD, live=True)
    await state.live.start()
    try:
        await _until(lambda r: r.mode == "polling", state.live)
    finally:
        await state.live.stop()
    (warning,) = _records(caplog, "WARNING")
    assert "the live engine stopped" in warning.getMessage() and warning.exc_info is None
    assert not _records(caplog, "ERROR")


async def test_a_bug_in_the_live_engine_is_logged_at_error_and_the_server_polls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keyfolio.services import live

    async def buggy_run(self: live.LiveEngine) -> None:  # an injected bug in our own engine
        raise KeyError("a bug")

    monkeypatch.setattr(live.LiveEngine, "run", buggy_run)
    state = ServerState(Settings(home=tmp_path / "home"), password=PASSWORD, live=True)
    await state.live.start()
    try:
        await _until(lambda r: r.mode == "polling", state.live)
    finally:
        await state.live.stop()
    (error,) = _records(caplog, "ERROR")
    assert "the live engine crashed (a bug in keyfolio)" in error.getMessage()
    assert error.exc_info is not None and isinstance(error.exc_info[1], KeyError)
    state.app.close()


async def test_a_restart_that_meets_the_shutdown_launches_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "keyfolio.db").mkdir(parents=True)  # the runner ends up polling
    state = ServerState(Settings(home=home), password=PASSWORD, live=True)
    await state.live.start()
    await _until(lambda r: r.mode == "polling", state.live)
    restarting = asyncio.get_running_loop().create_task(state.live.restart())
    await asyncio.sleep(0)  # the restart now waits for the old task to end...
    await state.live.stop()  # ...when the server shuts down (an unlock during shutdown)
    await restarting
    assert state.live._task is None and state.live.mode == "off"  # nothing left running
