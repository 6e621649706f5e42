"""What an ``OSError`` of the machine means to keyfolio: the one place it is translated.

A full disk, a read-only or missing directory, a directory where a file belongs: each becomes
one of the :class:`~keyfolio.errors.StorageUnavailableError` family (exit code 2, a sync stops
at the first account instead of trying every one), with a hint that names the fix. Any other
``OSError`` is the caller's to report.
"""

from __future__ import annotations

import errno
import os

from keyfolio.errors import DataDirError, DiskFullError, StorageUnavailableError

__all__ = ["translate_os_error"]


def translate_os_error(
    exc: OSError, *, what: str, home: os.PathLike[str] | str | None = None
) -> StorageUnavailableError | None:
    """The keyfolio error for an ``OSError`` of the machine, or None for any other.

    ``what`` names the object (``"the log file /x/keyfolio.log"``). A full disk, a file
    size limit and a read-only file system are always the machine's; a permission or a
    directory in the wrong place only when the file is in the data directory ``home``
    (given) or ``home`` is not given (the caller knows the path is keyfolio's).
    """
    code = exc.errno
    reason = exc.strerror or str(exc)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"no space left to write {what} ({reason})")
    if code == errno.EFBIG:
        return DiskFullError(
            f"could not write {what}: the file reached a size limit ({reason})",
            hint="A file size limit (`ulimit -f`) or the file system's largest file size "
            "was reached: raise the limit, or move the data directory (--home) to "
            "another disk. The last good data is kept.",
        )
    if code == errno.EROFS:
        return DataDirError(f"cannot write {what}: the file system is read-only")
    if home is not None and not _inside(exc.filename, home):
        return None
    if code in (errno.EACCES, errno.EPERM):
        return DataDirError(f"cannot write {what}: permission denied")
    if code == errno.EISDIR:
        return DataDirError(
            f"{what} is a directory",
            hint="keyfolio keeps a file there: move that directory away, or choose "
            "another data directory with --home DIR or KEYFOLIO_HOME.",
        )
    if code in (errno.ENOTDIR, errno.EEXIST):
        return DataDirError(
            f"{what} is not a directory (a file is in the way: {exc.filename or reason})",
            hint="Move that file away, or choose another data directory with --home DIR "
            "or KEYFOLIO_HOME.",
        )
    return None


def _inside(filename: object, home: os.PathLike[str] | str) -> bool:
    if not isinstance(filename, str | os.PathLike):
        return False
    path, base = os.path.abspath(filename), os.path.abspath(home)
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)
