"""PLACEHOLDER: being written by a helper (see /work/briefs)."""

from __future__ import annotations

from sqlalchemy.orm import Session

__all__ = ["SnapshotRepo"]


class SnapshotRepo:
    def __init__(self, session: Session, *, where: str) -> None:
        self._session = session
        self._where = where
