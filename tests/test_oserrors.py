"""translate_os_error: the machine's OSErrors as keyfolio errors, and the ones it leaves alone."""

import errno
import os

import pytest

from keyfolio import errors
from keyfolio.oserrors import translate_os_error


@pytest.mark.parametrize(
    ("code", "expected", "text"),
    [
        (errno.ENOSPC, errors.DiskFullError, "no space left to write the log"),
        (errno.EDQUOT, errors.DiskFullError, "no space left"),
        (errno.EFBIG, errors.DiskFullError, "size limit"),
        (errno.EROFS, errors.DataDirError, "read-only"),
        (errno.EACCES, errors.DataDirError, "permission denied"),
        (errno.EPERM, errors.DataDirError, "permission denied"),
        (errno.EISDIR, errors.DataDirError, "is a directory"),
        (errno.ENOTDIR, errors.DataDirError, "not a directory"),
    ],
)
def test_os_errors_of_the_machine(code: int, expected: type, text: str) -> None:
    exc = OSError(code, os.strerror(code), "/data/keyfolio.log")
    error = translate_os_error(exc, what="the log file")
    assert type(error) is expected and text in error.message and error.hint


def test_os_errors_outside_the_data_dir_or_unknown_are_not_translated() -> None:
    outside = OSError(errno.EACCES, "Permission denied", "/etc/shadow")
    assert translate_os_error(outside, what="x", home="/data") is None
    inside = OSError(errno.EACCES, "Permission denied", "/data/cache/m.json")
    assert translate_os_error(inside, what="x", home="/data")
    full = OSError(errno.ENOSPC, "No space left on device")  # no file name: still the disk
    assert translate_os_error(full, what="x", home="/data")
    other = OSError(errno.ENOENT, "No such file or directory", "/data/x")
    assert translate_os_error(other, what="x") is None
