"""Alembic revisions, one file each, applied in order by ``Database.migrate``."""

__all__: list[str] = []
