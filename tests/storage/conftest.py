"""Storage fixtures: a migrated database on SQLite, and on PostgreSQL when
KEYFOLIO_TEST_PG_URL names a server (each test gets its own fresh database there)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url

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


def _fresh_pg_database(admin_url: str, template: str = "template0") -> Iterator[str]:
    """A new database (a copy of ``template``) for the duration of the generator; its URL."""
    name = f"keyfolio_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def pg_migrated_template() -> Iterator[str]:
    """A migrated PostgreSQL database, made once per test process: each test's ``db`` is a
    copy of it (CREATE DATABASE ... TEMPLATE), instead of migrating a database per test."""
    assert PG_URL is not None
    for url in _fresh_pg_database(PG_URL):
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
        yield from _fresh_pg_database(PG_URL)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database, on each backend."""
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'keyfolio.db'}"])
    else:
        assert PG_URL is not None
        template = request.getfixturevalue("pg_migrated_template")
        urls = _fresh_pg_database(PG_URL, template=template)
    for url in urls:
        database = Database(url)
        database.migrate()  # on a copy of the template: already current, nothing to do
        yield database
        database.dispose()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "keyfolio.db"
