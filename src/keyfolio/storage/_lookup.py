"""Account-name lookups shared by the repositories. Private to ``keyfolio.storage``."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyfolio.errors import NotFoundError
from keyfolio.storage.tables import AccountRow

__all__ = ["account_ids"]


def account_ids(session: Session, names: Iterable[str]) -> dict[str, int]:
    """``{name: id}`` of the named accounts; NotFoundError (with a hint) for an unknown one."""
    wanted = sorted(set(names))
    found = {
        name: id_
        for id_, name in session.execute(
            select(AccountRow.id, AccountRow.name).where(AccountRow.name.in_(wanted))
        )
    }
    missing = [name for name in wanted if name not in found]
    if missing:
        raise NotFoundError(
            f"No account named {missing[0]!r}", hint="List accounts with `keyfolio account list`."
        )
    return found
