"""The one place where SQLAlchemy's exceptions become keyfolio errors.

Nothing of SQLAlchemy leaves ``keyfolio.storage``: ``translate_errors()`` turns
``IntegrityError`` into ``ConflictError`` and every other database failure into
``StorageError`` with a hint, always ``raise ... from exc``. The machine's problems are told
apart by the driver's error code (SQLite's extended result name, PostgreSQL's SQLSTATE): a
full disk or a failed write is ``DiskFullError``, a lock held past the busy timeout
``DatabaseLockedError``, a read-only or unopenable file ``DataDirError`` (all exit 2).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import exc as sa_exc

from keyfolio.errors import (
    ConflictError,
    DatabaseLockedError,
    DataDirError,
    DiskFullError,
    StorageError,
)

__all__ = ["describe", "storage_error", "translate_errors", "translated"]

logger = logging.getLogger(__name__)

_WRITABLE_HINT = "Check the data directory (--home or KEYFOLIO_HOME) exists and is writable."

# SQLite's extended result codes (sqlite3 exceptions carry them as ``sqlite_errorname``).
_SQLITE_FULL = {"SQLITE_FULL"}
_SQLITE_WRITE_IO = {
    "SQLITE_IOERR_WRITE",  # write(2) failed: EFBIG, EIO ...
    "SQLITE_IOERR_TRUNCATE",
    "SQLITE_IOERR_FSYNC",
    "SQLITE_IOERR_DIR_FSYNC",
    "SQLITE_IOERR_SHMSIZE",  # growing the -shm file
}
# PostgreSQL SQLSTATEs: disk_full, out_of_memory, lock_not_available.
_PG_FULL = {"53100"}
_PG_LOCKED = {"55P03"}


def describe(exc: BaseException) -> str:
    """The driver's own one-line message, without SQLAlchemy's statement and parameters."""
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _code(exc: BaseException) -> str:
    """The driver's error code: SQLite's extended name or PostgreSQL's SQLSTATE ('' if none)."""
    original = getattr(exc, "orig", None)
    for name in ("sqlite_errorname", "sqlstate", "pgcode"):
        value = getattr(original, name, None)
        if isinstance(value, str):
            return value
    return ""


def storage_error(exc: sa_exc.SQLAlchemyError, *, where: str) -> StorageError:
    """A ``StorageError`` with a specific message and hint for a SQLAlchemy failure.

    The machine's problems (a full disk, a write that failed, a read-only file, a lock held
    too long) become :class:`~keyfolio.errors.StorageUnavailableError` subclasses (exit 2).
    """
    detail = describe(exc)
    lowered = detail.lower()
    code = _code(exc)
    if code in _SQLITE_FULL or code in _PG_FULL or "disk is full" in lowered:
        return DiskFullError(f"no space left to write the database at {where} ({detail})")
    if code in _SQLITE_WRITE_IO:
        return DiskFullError(
            f"could not write the database at {where} ({detail}, {code})",
            hint="The disk may be full, a file size limit (`ulimit -f`) may be reached, or "
            "the disk may be failing: free some space or check the disk, then run the command "
            "again. Nothing was half-written: the last good data is kept.",
        )
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or code in _PG_LOCKED:
        return DatabaseLockedError(f"the database at {where} is locked ({detail})")
    if not code and ("locked" in lowered or "busy" in lowered):
        return DatabaseLockedError(f"the database at {where} is locked ({detail})")
    if code.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN")) or (
        not code
        and ("readonly" in lowered or "read-only" in lowered or "unable to open" in lowered)
    ):
        return DataDirError(f"cannot write the database at {where} ({detail})")
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return StorageError(
            f"The database at {where} has no keyfolio tables ({detail})",
            hint="Run keyfolio once more so it can create the tables, or check the database URL.",
        )
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return StorageError(f"The database at {where} failed: {detail}", hint=_WRITABLE_HINT)
    return StorageError(
        f"The database at {where} failed: {detail}",
        hint="Run the command again with --debug for details; the data was not changed.",
    )


@contextmanager
def translate_errors(where: str) -> Iterator[None]:
    """Re-raise SQLAlchemy failures inside the block as ``ConflictError`` / ``StorageError``."""
    try:
        yield
    except sa_exc.IntegrityError as exc:
        logger.debug("integrity error on %s: %s", where, describe(exc))
        raise ConflictError(
            f"The change conflicts with what is stored in {where} ({describe(exc)})",
            hint="A name is probably taken already; list what exists and choose another.",
        ) from exc
    except sa_exc.SQLAlchemyError as exc:
        logger.debug("database error on %s: %s", where, describe(exc))
        raise storage_error(exc, where=where) from exc


class _Located(Protocol):
    """A repository that knows which database it works on (for error messages)."""

    _where: str


Repo = TypeVar("Repo", bound=_Located)
P = ParamSpec("P")
R = TypeVar("R")


def translated(
    method: Callable[Concatenate[Repo, P], R],
) -> Callable[Concatenate[Repo, P], R]:
    """Decorate a repository method: database failures become keyfolio errors."""

    @functools.wraps(method)
    def wrapper(self: Repo, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with translate_errors(self._where):
            return method(self, *args, **kwargs)

    return wrapper
