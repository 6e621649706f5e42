"""Alembic environment: runs on the connection that ``Database.migrate`` hands over.

No alembic.ini is needed: ``keyfolio.storage.db.alembic_config`` builds the Config in code and
puts the open connection in ``config.attributes["connection"]``. Without one (a developer
running ``alembic`` by hand with ``sqlalchemy.url`` set), it connects by itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from keyfolio.storage.tables import all_tables

__all__: list[str] = []

config = context.config
target_metadata = all_tables()


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL of the migrations for ``sqlalchemy.url`` instead of running it."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new one to ``sqlalchemy.url``."""
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _configure(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("keyfolio migrations need a connection or sqlalchemy.url")
    engine = create_engine(url)
    try:
        with engine.begin() as own_connection:
            _configure(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
