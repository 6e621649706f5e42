"""Fixtures for end-to-end CLI tests: a sandbox OKX in a thread and a `keyfolio` runner.

Linking an account through the CLI costs a few seconds (a subprocess that imports ccxt,
derives the vault key with Argon2id and reads four balance sources), and most tests start
from the same linked home. So each test process links 'alice' once, into a template home,
and every test that wants a linked home gets a copy of it. The sandbox is shared the same
way: one per test process, started over from ``base_state()`` (``PUT /__sandbox__/state``)
before each test, so the template's account (its ``--api-url``) still points at it.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import READ_KEY, Runner, base_state, control

# hosted_support (PostgreSQL and Redis for the hosted-mode tests) lives with the services tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[str]:
    """The test process's sandbox (use ``sandbox_url``: it starts it over first)."""
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues.okx.state import parse_state

    with SandboxThread(parse_state(base_state())) as server:
        yield server.url


@pytest.fixture
def sandbox_url(shared_sandbox: str) -> str:
    """A sandbox serving ``base_state()``: fresh books, no faults, empty log, no WebSockets."""
    control(shared_sandbox, "/__sandbox__/state", base_state(), method="PUT")
    return shared_sandbox


@pytest.fixture
def kf(tmp_path: Path) -> Runner:
    return Runner(tmp_path / "home")


@pytest.fixture(scope="session")
def linked_template(shared_sandbox: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with 'alice' linked through the CLI, made once per test process."""
    control(shared_sandbox, "/__sandbox__/state", base_state(), method="PUT")
    runner = Runner(tmp_path_factory.mktemp("linked-template") / "home")
    result = runner(
        "account", "add", "okx", "--name", "alice", "--api-url", shared_sandbox, creds=READ_KEY
    )
    assert result.returncode == 0, result.stderr
    return runner.home


@pytest.fixture
def linked(kf: Runner, linked_template: Path, sandbox_url: str) -> Runner:
    """A runner on a copy of the linked template home; the sandbox started over."""
    shutil.copytree(linked_template, kf.home)
    return kf


@pytest.fixture(scope="session")
def synced_template(
    shared_sandbox: str, linked_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The linked template after one `keyfolio sync` (balances and the history import)."""
    control(shared_sandbox, "/__sandbox__/state", base_state(), method="PUT")
    runner = Runner(tmp_path_factory.mktemp("synced-template") / "home")
    shutil.copytree(linked_template, runner.home)
    result = runner("sync")
    assert result.returncode == 0, result.stderr
    return runner.home


@pytest.fixture
def synced(kf: Runner, synced_template: Path, sandbox_url: str) -> Runner:
    """A runner on a copy of a home where 'alice' was linked and synced once."""
    shutil.copytree(synced_template, kf.home)
    return kf


@pytest.fixture
def hosted() -> Iterator[dict[str, str]]:
    """The environment of hosted-mode processes: a PostgreSQL database and a Redis namespace
    of the test's own (the tests that use it are marked ``needs_servers``)."""
    from hosted_support import fresh_namespace, fresh_pg_database, hosted_env

    for url in fresh_pg_database():
        for namespace in fresh_namespace():
            yield hosted_env(url, namespace)
