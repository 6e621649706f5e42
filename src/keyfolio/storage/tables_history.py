"""PLACEHOLDER: the history tables (being written by a helper)."""

from __future__ import annotations

from keyfolio.storage.tables import Base

__all__: list[str] = []
_ = Base
