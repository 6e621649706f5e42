"""Shared fixtures: a clean KEYFOLIO_* environment for every test, and leak checks.

A resource a test forgets to close (a socket, a client session, a database engine) is
reported in *that* test: after each test the garbage collector runs, so every
``ResourceWarning`` from a finalizer lands in the test's teardown, where pytest's
unraisable-exception hook turns it into an error (``filterwarnings = error``).
What survives a collection is then frozen out of the collector (``gc.freeze``), so each
collection only scans what the last test made (~1 ms instead of ~300 ms for the whole heap);
everything is unfrozen and collected once more at the end of the session.

Subprocesses inherit ``PYTHONWARNINGS=error::ResourceWarning``: the CLI runners check their
stderr for it, so a leak in `keyfolio` itself fails the test that ran the command.

Hypothesis runs derandomized (profile ``deterministic``): every run tries the same examples,
so a property cannot pass one CI run and fail the next. To search for new counterexamples,
run with ``HYPOTHESIS_PROFILE=explore`` (random examples); a counterexample found that
way is then kept as an ``@example`` in the property (docs/testing.md).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

# Read by every Python subprocess the tests start (the CLI, servers, import children).
os.environ["PYTHONWARNINGS"] = "error::ResourceWarning"


@pytest.fixture(scope="session", autouse=True)
def _freeze_imports() -> Iterator[None]:
    gc.collect()
    gc.freeze()
    yield
    # Objects frozen while still in use (by module or session fixtures) are finalized here,
    # so a leak among them still fails the run (in the last test's teardown).
    gc.unfreeze()
    gc.collect()


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test(_freeze_imports: None) -> Iterator[None]:
    """Set up before, torn down after every other function fixture of the test."""
    yield
    gc.collect()
    gc.freeze()  # what survived (modules imported on first use, caches) is not scanned again


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KEYFOLIO_"):
            monkeypatch.delenv(name)
