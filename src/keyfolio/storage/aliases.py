"""The user's asset aliases: ``(venue, code) -> asset`` overrides of the venues' own tables."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from keyfolio.errors import NotFoundError
from keyfolio.storage._errors import translated
from keyfolio.storage.tables import AssetAliasRow

__all__ = ["AliasRepo"]


class AliasRepo:
    """Reads and writes the ``asset_aliases`` table inside the store's transaction."""

    def __init__(self, session: Session, *, where: str) -> None:
        self._session = session
        self._where = where

    @translated
    def all(self, *, exchange: str | None = None) -> dict[tuple[str, str], str]:
        """Every override (or one venue's): ``{(exchange, code): asset}``."""
        query = select(AssetAliasRow)
        if exchange is not None:
            query = query.where(AssetAliasRow.exchange == exchange)
        return {(row.exchange, row.code): row.asset for row in self._session.scalars(query)}

    @translated
    def set(self, *, exchange: str, code: str, asset: str) -> None:
        """Map ``code`` of ``exchange`` to ``asset`` (replacing an earlier override)."""
        row = self._session.scalar(
            select(AssetAliasRow).where(
                AssetAliasRow.exchange == exchange, AssetAliasRow.code == code
            )
        )
        if row is None:
            self._session.add(AssetAliasRow(exchange=exchange, code=code, asset=asset))
        else:
            row.asset = asset
        self._session.flush()

    @translated
    def remove(self, *, exchange: str, code: str) -> None:
        """Forget the override of ``code``; NotFoundError if there is none."""
        result = self._session.execute(
            delete(AssetAliasRow).where(
                AssetAliasRow.exchange == exchange, AssetAliasRow.code == code
            )
        )
        if not getattr(result, "rowcount", 0):
            raise NotFoundError(
                f"there is no alias for {code} on {exchange}",
                hint="List the aliases with `keyfolio asset list`.",
            )
