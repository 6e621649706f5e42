"""Fixtures for the exchanges tests (helpers live in exchanges_support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from exchanges_support import BASE_STATE, sandbox

from keyfolio.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", retries=3, request_timeout_seconds=5.0)


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    def make(**changes: Any) -> Settings:
        values: dict[str, Any] = {"home": tmp_path / "home", "retries": 3}
        values.update(changes)
        return Settings(**values)

    return make


@pytest.fixture
async def alice_url() -> AsyncIterator[str]:
    """A sandbox with the base state; rate limits on, as OKX."""
    async with sandbox(BASE_STATE) as url:
        yield url
