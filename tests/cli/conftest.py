"""Fixtures for end-to-end CLI tests: a sandbox OKX in a thread and a `keyfolio` runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import READ_KEY, Runner, base_state


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    with SandboxThread(parse_state(base_state())) as server:
        yield server.url


@pytest.fixture
def kf(tmp_path: Path) -> Runner:
    return Runner(tmp_path / "home")


@pytest.fixture
def linked(kf: Runner, sandbox_url: str) -> Runner:
    result = kf(
        "account", "add", "okx", "--name", "alice", "--api-url", sandbox_url, creds=READ_KEY
    )
    assert result.returncode == 0, result.stderr
    return kf
