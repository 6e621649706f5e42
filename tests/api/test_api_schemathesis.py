"""Property-based: schemathesis generates requests from the OpenAPI schema; no 5xx, ever.

The server runs for real (uvicorn in a thread) with the sandbox behind it: generated link
bodies are pointed at the sandbox (``exchange=okx``, ``api_url`` = sandbox), so generated
credentials are refused by a real exchange API without leaving the machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_support import PASSWORD, state_data
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from keyfolio.api.app import create_app
from keyfolio.api.server import ServerThread
from keyfolio.config import Settings


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Any]]:
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    home: Path = tmp_path_factory.mktemp("schemathesis") / "home"
    with SandboxThread(parse_state(state_data()), rate_limit=False) as sandbox:
        with ServerThread(Settings(home=home, retries=0), password=PASSWORD, live=False) as server:
            yield server.url, sandbox.url, server.api


def _schema() -> Any:
    # create_app only wires routes: the home directory is never touched here.
    api = create_app(Settings(home=Path("/nonexistent/keyfolio-schema")), live=False)
    return schemathesis.openapi.from_dict(api.openapi()).exclude(path="/api/v1/events")


schema = _schema()


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_no_server_errors(case: Any, served: tuple[str, str, Any]) -> None:
    url, sandbox_url, _ = served
    if case.method == "POST" and case.path == "/api/v1/accounts" and isinstance(case.body, dict):
        case.body["exchange"] = "okx"
        case.body["api_url"] = sandbox_url
    response = case.call(base_url=url, timeout=30)
    assert response.status_code < 500, (case.method, case.path, response.text)
    case.validate_response(response, checks=[not_a_server_error])
