"""One gate per API key for venues that count nonces: calls in order, nonces that only grow.

Kraken accepts a nonce only if it is greater than the last one the key accepted, and two calls
of one key that overtake each other on the way fail with ``EAPI:Invalid nonce``. So every signed
call of a key passes through its :class:`KeyGate`:

* **Serialised.** A call holds the gate from signing to its answer: an ``asyncio.Lock`` orders
  the tasks of this process, and an exclusive ``flock`` on the key's file orders processes (a
  ``keyfolio sync`` beside ``keyfolio serve``). Blocking waits for the ``flock`` run in a thread.
* **Persisted nonce.** :meth:`KeyGate.nonce` (only while the gate is held) returns
  ``max(now in ms, last + 1)`` and writes it to the key's file before the request leaves, so a
  later run, or another process, never sends a smaller one, even after the clock was set back.
* **Paced.** The file also keeps the key's call counter (the venue's model: a maximum and a decay
  per second); a call that would take it over the maximum first waits for it to decay.

The file is ``<data dir>/keys/<venue>-<sha256 of the API key>.json`` (mode 0600): the key itself
is never written. The data directory comes from :class:`~keyfolio.config.Settings`, so the
exchanges layer needs no storage code. docs/exchanges/kraken.md explains the choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keyfolio.errors import StorageError
from keyfolio.oserrors import translate_os_error

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: processes are not ordered, tasks still are
    fcntl = None  # type: ignore[assignment]

__all__ = ["CallCounter", "KeyGate", "key_gate"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallCounter:
    """A venue's call counter: each call adds its cost, the level decays by ``decay`` a second,
    and a call that would take it above ``maximum`` is refused by the venue."""

    maximum: float
    decay: float

    def level(self, level: float, since: float, now: float) -> float:
        """The level ``now`` of a counter that was at ``level`` at ``since`` (wall seconds)."""
        return max(0.0, level - max(0.0, now - since) * self.decay)

    def wait(self, level: float, cost: float) -> float:
        """Seconds until a call of ``cost`` fits under the maximum."""
        return max(0.0, (level + cost - self.maximum) / self.decay)


def _storage_error(exc: OSError, path: Path) -> StorageError:
    what = f"the nonce file {path}"
    return translate_os_error(exc, what=what) or StorageError(
        f"could not use {what}: {exc.strerror or exc}"
    )


def _path(home: Path, venue: str, api_key: str) -> Path:
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    return home / "keys" / f"{venue}-{digest}.json"


class KeyGate:
    """The gate of one API key in one data directory (see the module docstring)."""

    def __init__(self, path: Path, counter: CallCounter) -> None:
        self.path = path
        self.counter = counter
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._guard = threading.Lock()
        self._fd: int | None = None
        self._state: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"KeyGate({self.path.name!r})"

    # -- holding -------------------------------------------------------------------------

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            lock = self._locks.get(loop)
            if lock is None:
                lock = self._locks[loop] = asyncio.Lock()
            return lock

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
            return os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise _storage_error(exc, self.path) from exc

    async def _flock(self, fd: int) -> None:
        """Lock ``fd`` against other processes. If cancelled while waiting, the descriptor is
        closed (releasing the lock) once the waiting thread has it; otherwise the caller closes
        it."""
        if fcntl is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            logger.debug("%r: another process holds the key, waiting", self)
        waiting = asyncio.ensure_future(asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX))
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            waiting.add_done_callback(lambda _: os.close(fd))
            raise

    @contextlib.asynccontextmanager
    async def hold(self, cost: float = 1.0, *, pace: bool = True) -> AsyncIterator[None]:
        """Hold the key for one call of ``cost``; with ``pace`` wait for the call counter first."""
        async with self._lock():
            fd = self._open()
            try:
                await self._flock(fd)
            except asyncio.CancelledError:
                raise  # _flock closes the descriptor when its thread gets the lock
            except BaseException:
                os.close(fd)
                raise
            try:
                self._fd, self._state = fd, self._read(fd)
                if pace:
                    await self._pace(cost)
                yield
            finally:
                self._fd = None
                os.close(fd)  # closing the descriptor releases the flock

    async def _pace(self, cost: float) -> None:
        now = time.time()
        level = self.counter.level(
            float(self._state.get("calls", 0.0)), float(self._state.get("at", now)), now
        )
        wait = self.counter.wait(level, cost)
        if wait > 0:
            logger.info("%r: waiting %.1f s for the call counter to decay", self, wait)
            await asyncio.sleep(wait)
            now = time.time()
            level = self.counter.level(level, now - wait, now)
        self._state.update(calls=level + cost, at=now)
        self._write()

    # -- while held ----------------------------------------------------------------------

    def nonce(self) -> int:
        """The next nonce of the key: above every nonce it ever got, and written down first."""
        if self._fd is None:
            raise RuntimeError(f"{self!r}: a nonce was asked for outside a held call")
        value = max(time.time_ns() // 1_000_000, int(self._state.get("nonce", 0)) + 1)
        self._state["nonce"] = value
        self._write()
        return value

    def penalise(self, cost: float) -> None:
        """The venue said the counter is full: count it full (plus the refused call)."""
        if self._fd is None:
            return
        self._state.update(calls=self.counter.maximum + cost, at=time.time())
        self._write()

    def _read(self, fd: int) -> dict[str, Any]:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = b""
        while chunk := os.read(fd, 4096):
            raw += chunk
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            logger.warning("%r: unreadable nonce file, starting from the clock", self)
            data = {}
        return data if isinstance(data, dict) else {}

    def _write(self) -> None:
        assert self._fd is not None
        data = json.dumps(self._state, sort_keys=True).encode()
        try:
            os.lseek(self._fd, 0, os.SEEK_SET)
            os.write(self._fd, data)
            os.ftruncate(self._fd, len(data))
        except OSError as exc:
            raise _storage_error(exc, self.path) from exc


_GATES: dict[Path, KeyGate] = {}
_GATES_GUARD = threading.Lock()


def key_gate(home: Path, venue: str, api_key: str, counter: CallCounter) -> KeyGate:
    """The one gate of ``api_key`` on ``venue`` in the data directory ``home`` (per process)."""
    path = _path(home, venue, api_key)
    with _GATES_GUARD:
        gate = _GATES.get(path)
        if gate is None:
            gate = _GATES[path] = KeyGate(path, counter)
        return gate
