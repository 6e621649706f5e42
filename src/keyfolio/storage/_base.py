"""What every part of ``Store`` stands on: the transaction, the guard, the lookups by name.

``Store`` (:mod:`keyfolio.storage.repositories`) is assembled from parts that share one session;
this module holds what they share. Private to ``keyfolio.storage``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from keyfolio.errors import ConflictError, NotFoundError, StorageError
from keyfolio.storage._errors import translate_errors
from keyfolio.storage.tables import AccountRow, Base, PortfolioRow

__all__ = ["StoreBase", "guarded"]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound="StoreBase")


def guarded(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Refuse a closed Store and translate database failures into keyfolio errors."""

    @functools.wraps(method)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._session is None:
            raise StorageError(
                "This storage session has ended",
                hint="Open a new one with `with database.session() as store:`.",
            )
        with translate_errors(self._where):
            return method(self, *args, **kwargs)

    return wrapper


class StoreBase:
    """One transaction's session, until :meth:`close`; rows of portfolios and accounts by name."""

    def __init__(self, session: Session, *, where: str) -> None:
        self._session: Session | None = session
        self._where = where

    def close(self) -> None:
        """Detach from the transaction; later calls raise ``StorageError``."""
        self._session = None

    @property
    def _s(self) -> Session:
        assert self._session is not None
        return self._session

    def _insert(self, row: Base, *, message: str, hint: str) -> None:
        """Add ``row`` in a savepoint, so a taken name leaves the transaction usable."""
        try:
            with self._s.begin_nested():
                self._s.add(row)
        except sa_exc.IntegrityError as exc:
            raise ConflictError(message, hint=hint) from exc

    def _portfolio_row(self, name: str) -> PortfolioRow:
        row = self._s.scalar(select(PortfolioRow).where(PortfolioRow.name == name))
        if row is None:
            raise NotFoundError(
                f"No portfolio named {name!r}",
                hint="List portfolios with `keyfolio portfolio list`, or create it with "
                f"`keyfolio portfolio add {name}`.",
            )
        return row

    def _account_row(self, name: str) -> AccountRow:
        row = self._s.scalar(select(AccountRow).where(AccountRow.name == name))
        if row is None:
            raise NotFoundError(
                f"No account named {name!r}",
                hint="List accounts with `keyfolio account list`, or add one with "
                "`keyfolio account add`.",
            )
        return row
