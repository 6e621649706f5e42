"""Alembic migrations of the keyfolio database, run programmatically by ``Database.migrate``."""

__all__: list[str] = []
