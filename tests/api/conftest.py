"""Fixtures for the API tests: the real sandbox, an app on a temp home, an httpx client."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from api_support import PASSWORD, READ_KEY, Recorder, body, state_data
from fastapi import FastAPI

from keyfolio.api.app import create_app
from keyfolio.config import Settings


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    with SandboxThread(parse_state(state_data()), rate_limit=False) as server:
        yield server.url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def api(settings: Settings) -> FastAPI:
    return create_app(settings, password=PASSWORD, live=False)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
async def client(api: FastAPI, recorder: Recorder) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://127.0.0.1",
        event_hooks={"response": [recorder]},
    ) as http:
        yield http
    api.state.keyfolio.app.close()


@pytest.fixture
async def linked(client: httpx.AsyncClient, sandbox_url: str) -> httpx.AsyncClient:
    response = await client.post(
        "/api/v1/accounts", json=body(READ_KEY, name="alice", url=sandbox_url)
    )
    assert response.status_code == 201, response.text
    return client
