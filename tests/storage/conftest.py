"""Storage fixtures: a migrated database on SQLite, and on PostgreSQL when
KEYFOLIO_TEST_PG_URL names a server (each test gets its own fresh database there)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_support import fresh_pg_database
from sqlalchemy import make_url

from keyfolio.storage import Database

# Read at import: the autouse clean_environ fixture removes KEYFOLIO_* before each test.
PG_URL = os.environ.get("KEYFOLIO_TEST_PG_URL")

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL, reason="set KEYFOLIO_TEST_PG_URL to run the storage suite on PostgreSQL"
        ),
    ),
]


@pytest.fixture(scope="session")
def pg_migrated_template() -> Iterator[str]:
    """A migrated PostgreSQL database, made once per test process: each test's ``db`` is a
    copy of it (CREATE DATABASE ... TEMPLATE), instead of migrating a database per test."""
    assert PG_URL is not None
    for url in fresh_pg_database(PG_URL):
        database = Database(url)
        database.migrate()
        database.dispose()  # a template must have no open connection
        yield str(make_url(url).database)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'keyfolio.db'}"
    else:
        assert PG_URL is not None
        yield from fresh_pg_database(PG_URL)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database, on each backend."""
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'keyfolio.db'}"])
    else:
        assert PG_URL is not None
        template = request.getfixturevalue("pg_migrated_template")
        urls = fresh_pg_database(PG_URL, template=template)
    for url in urls:
        database = Database(url)
        database.migrate()  # on a copy of the template: already current, nothing to do
        yield database
        database.dispose()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "keyfolio.db"
