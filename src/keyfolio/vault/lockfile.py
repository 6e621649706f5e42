"""Advisory locks between keyfolio processes: ``fcntl.flock`` on a small lock file.

An flock belongs to an open file description, so two opens of the same lock file exclude each
other even inside one process (two API requests in one server), and the kernel drops the lock
when its holder dies: a crashed keyfolio never leaves a stale lock behind. Lock files are left
in place on purpose: deleting one while another process waits on it would let two holders in.

On Windows, where there is no flock, ``msvcrt.locking`` on the file's first byte is used.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from keyfolio.errors import KeyfolioError, StorageError

__all__ = ["exclusive_lock"]

LOCK_MODE = 0o600


def _open(path: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        return os.open(path, flags, LOCK_MODE)
    except OSError as exc:
        raise StorageError(
            f"could not open the lock file {path}: {exc.strerror or exc}",
            hint="Check the data directory (--home) exists and is writable by you.",
        ) from None


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _acquire(fd: int, *, wait: bool) -> bool:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                if not wait:
                    return False
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # waits up to 10 s, then raises
                    return True
                except OSError:
                    continue

    def _release(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _acquire(fd: int, *, wait: bool) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _release(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def exclusive_lock(
    path: Path, *, wait: bool = True, busy: KeyfolioError | None = None
) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created with mode 0600) while the block runs.

    With ``wait`` (the default) it waits for the current holder to let go. With
    ``wait=False`` a lock held elsewhere raises ``busy`` at once (a ``StorageError`` naming the
    file if ``busy`` is None), so a caller can turn "someone else is doing this" into its own
    error with its own hint.
    """
    fd = _open(path)
    try:
        if not _acquire(fd, wait=wait):
            raise busy or StorageError(
                f"{path} is locked by another keyfolio process",
                hint="Wait for the other keyfolio command to finish, then try again.",
            )
        try:
            yield
        finally:
            _release(fd)
    finally:
        os.close(fd)
