"""Logging setup and the redaction filter.

Only the CLI (and later the API) call :func:`setup_logging`. Every module just does
``logger = logging.getLogger(__name__)``.

The redaction filter is the last line of defence: secrets are never passed to a logger on
purpose, but if one slips in (a ccxt debug dump, an exception text), it is masked. It masks

* every secret registered with :func:`register_secret` (the exact values in use), and
* anything that *looks like* a credential: OKX headers, ``apiKey=...``, ``"secret": "..."``,
  ``passphrase``/``password`` assignments and long hex or UUID-shaped tokens.

The log file (``keyfolio.log`` in the data directory) rotates by size: at ``max_bytes``
(``KEYFOLIO_LOG_MAX_BYTES``, 5 MiB) it becomes ``keyfolio.log.1`` and ``backups``
(``KEYFOLIO_LOG_BACKUPS``, 5) old files are kept. A log file that cannot be opened (a directory
in its place, a read-only directory) or written (a full disk) is a
:class:`~keyfolio.errors.StorageUnavailableError` at setup; a write that fails later prints one
warning and the run goes on without the file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Final

from keyfolio.errors import DataDirError, StorageUnavailableError
from keyfolio.oserrors import translate_os_error

__all__ = [
    "DEFAULT_BACKUPS",
    "DEFAULT_MAX_BYTES",
    "MASK",
    "QUIET",
    "RedactingFilter",
    "current_log_file",
    "forget_secrets",
    "redact",
    "register_secret",
    "setup_logging",
]

MASK = "***"
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_BACKUPS = 5

QUIET: Final = {"keyfolio_quiet": True}
"""``logger.error(..., exc_info=True, extra=QUIET)``: the user is told another way (an
``Error:``/``Hint:`` line), so the terminal shows the record only with --debug; the log file
always gets it, traceback included."""

logger = logging.getLogger(__name__)

_FILE_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")

_lock = threading.Lock()
_secrets: set[str] = set()

_KEY_NAMES = (
    r"api[_-]?key|apikey|secret(?:[_-]?key)?|pass(?:phrase|word)|pwd|sign(?:ature)?|"
    r"ok-access-(?:key|sign|passphrase)|token|private[_-]?key"
)
_ASSIGNMENT = re.compile(
    rf"""(?ix)
    (?P<name>["']?(?:{_KEY_NAMES})["']?\s*[:=]\s*)   # name followed by : or =
    (?P<quote>["']?)
    (?P<value>[^"'\s,;}}&]+)
    """
)
_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_LONG_HEX = re.compile(r"\b[0-9a-fA-F]{32,}\b")


def register_secret(value: str) -> None:
    """Mask this exact value wherever it appears in a log record from now on."""
    value = value.strip()
    if len(value) >= 4:
        with _lock:
            _secrets.add(value)


def forget_secrets(*, keep: Iterable[str] = ()) -> None:
    """Forget every registered secret except ``keep``.

    `keyfolio serve` calls it when the vault re-locks and nothing holds a credential any more,
    so the registry does not keep the secrets in memory either.
    """
    kept = {value.strip() for value in keep if len(value.strip()) >= 4}
    with _lock:
        _secrets.intersection_update(kept)
        _secrets.update(kept)


def redact(text: str, *, patterns: bool = True) -> str:
    """Return ``text`` with registered secrets and credential-looking values masked.

    ``patterns=False`` masks only the registered secrets: for messages keyfolio wrote itself
    (Error/Hint lines), where a pattern would garble a variable or field name.
    """
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    if not patterns:
        return text
    text = _ASSIGNMENT.sub(lambda m: f"{m['name']}{m['quote']}{MASK}", text)
    text = _UUID.sub(MASK, text)
    return _LONG_HEX.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """A logging filter that renders each record once and redacts the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.msg = redact(message)
        record.args = None
        return True


class _LogFile(RotatingFileHandler):
    """The size-rotated log file. After a failed write (a full disk) it warns once and stops
    writing, instead of printing a "Logging error" traceback for every record."""

    def __init__(self, path: Path, *, max_bytes: int, backups: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self.failure: OSError | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.failure is None:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError) or self.failure is not None:
            super().handleError(record)
            return
        self.failure = exc
        logger.warning(
            "cannot write the log file %s (%s): the rest of this run is not logged to it",
            self.baseFilename,
            exc.strerror or exc,
        )

    def write_first_line(self) -> None:
        """Write the run's first line now, so a log that cannot be written fails at start."""
        record = logging.LogRecord(
            __name__, logging.INFO, __file__, 0, "keyfolio started (pid %d)", (os.getpid(),), None
        )
        if self.shouldRollover(record):
            self.doRollover()
        assert self.stream is not None
        self.stream.write(self.format(record) + self.terminator)
        self.stream.flush()


class _TerseFormatter(logging.Formatter):
    """The terminal without --debug: ``LEVEL: message``, never a traceback (the file has it)."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname}: {record.getMessage()}"


class _NotQuiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "keyfolio_quiet", False)


def _log_file_error(exc: OSError, path: Path) -> StorageUnavailableError:
    what = f"the log file {path}"
    return translate_os_error(exc, what=what) or DataDirError(
        f"cannot open {what}: {exc.strerror or exc}"
    )


def _open_log_file(path: Path, *, max_bytes: int, backups: int) -> _LogFile:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _LogFile(path, max_bytes=max_bytes, backups=backups)
    except OSError as exc:
        raise _log_file_error(exc, path) from exc
    handler.setFormatter(_FILE_FORMAT)
    try:
        handler.write_first_line()
    except OSError as exc:
        with contextlib.suppress(OSError):  # closing flushes the same unwritable line again
            handler.close()
        raise _log_file_error(exc, path) from exc
    return handler


def _keyfolio_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_keyfolio", False)]


def current_log_file() -> Path | None:
    """The log file :func:`setup_logging` writes to, or None (not set up, or no file)."""
    for handler in _keyfolio_handlers():
        if isinstance(handler, _LogFile) and handler.failure is None:
            return Path(handler.baseFilename)
    return None


def setup_logging(
    *,
    debug: bool = False,
    log_file: Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backups: int = DEFAULT_BACKUPS,
) -> None:
    """Configure logging: stderr at WARNING (DEBUG with --debug), the rotated file at INFO.

    Raises :class:`~keyfolio.errors.StorageUnavailableError` (exit 2) when ``log_file`` cannot
    be opened or written: a directory in its place, a read-only directory, a full disk.
    """
    file_handler = (
        _open_log_file(log_file, max_bytes=max_bytes, backups=backups)
        if log_file is not None
        else None
    )
    root = logging.getLogger()
    for handler in _keyfolio_handlers():
        root.removeHandler(handler)
        handler.close()
    redactor = RedactingFilter()
    stream = logging.StreamHandler()
    stream.setLevel(logging.DEBUG if debug else logging.WARNING)
    handlers: list[logging.Handler] = [stream]
    if file_handler is not None:
        file_handler.setLevel(logging.DEBUG if debug else logging.INFO)
        handlers.append(file_handler)
    for handler in handlers:
        handler.addFilter(redactor)
        handler.setFormatter(_FILE_FORMAT)
        handler._keyfolio = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    if not debug:  # on the terminal, a warning reads like the CLI's own messages
        stream.setFormatter(_TerseFormatter())
        stream.addFilter(_NotQuiet())
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in ("aiohttp", "asyncio", "httpx", "httpcore", "alembic", "ccxt"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)
