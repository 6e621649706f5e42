"""Logging setup and the redaction filter.

Only the CLI (and later the API) call :func:`setup_logging`. Every module just does
``logger = logging.getLogger(__name__)``.

The redaction filter is the last line of defence: secrets are never passed to a logger on
purpose, but if one slips in (a ccxt debug dump, an exception text), it is masked. It masks

* every secret registered with :func:`register_secret` (the exact values in use), and
* anything that *looks like* a credential: OKX headers, ``apiKey=...``, ``"secret": "..."``,
  ``passphrase``/``password`` assignments and long hex or UUID-shaped tokens.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "MASK",
    "RedactingFilter",
    "forget_secrets",
    "redact",
    "register_secret",
    "setup_logging",
]

MASK = "***"

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


def setup_logging(*, debug: bool = False, log_file: Path | None = None) -> None:
    """Configure the ``keyfolio`` logger: stderr at WARNING (DEBUG with --debug), file at INFO."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_keyfolio", False):
            root.removeHandler(handler)
            handler.close()
    redactor = RedactingFilter()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    stream = logging.StreamHandler()
    stream.setLevel(logging.DEBUG if debug else logging.WARNING)
    handlers: list[logging.Handler] = [stream]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(logging.DEBUG if debug else logging.INFO)
        handlers.append(file_handler)
    for handler in handlers:
        handler.addFilter(redactor)
        handler.setFormatter(formatter)
        handler._keyfolio = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    if not debug:  # on the terminal, a warning reads like the CLI's own messages
        stream.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in ("aiohttp", "asyncio", "httpx", "httpcore", "alembic", "ccxt"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)
