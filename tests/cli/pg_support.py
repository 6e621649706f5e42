"""A PostgreSQL database of a test's own on the server KEYFOLIO_TEST_PG_URL names
(scripts/pg_test_server.sh starts one), for the storage suite and the hosted-mode tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator


def fresh_pg_database(
    admin_url: str, *, template: str = "template0", prefix: str = "keyfolio_test"
) -> Iterator[str]:
    """A new database (a copy of ``template``) for the duration of the generator; its URL.
    The database is dropped when the generator resumes."""
    from sqlalchemy import create_engine, make_url

    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
