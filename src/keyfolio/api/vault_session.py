"""The server's hold on the vault: where the password comes from, when it is open, the re-lock.

Where the password comes from, in this order:

* a **remembered** password: given at start (the prompt of `keyfolio serve`) or typed on the
  dashboard's Unlock page (``POST /api/v1/vault/unlock``). The re-lock forgets it.
* ``KEYFOLIO_PASSWORD`` in the server's environment, or the file ``KEYFOLIO_PASSWORD_FILE``
  names (a systemd credential, as the hosted workers use) (**auto-unlock**): the server re-opens
  the vault by itself whenever it needs it, until that password is found wrong.

Otherwise a use of the vault raises :class:`~keyfolio.errors.VaultLockedError` (HTTP 423).

**Idle re-lock.** ``settings.vault_idle_minutes`` (default 15; 0: never) after the vault was
opened or last *used by the user* (unlock, ``POST /sync``, link, rotate, remove; background
syncs and the live engine do not count), :meth:`VaultSession.relock_if_idle` re-locks it: it
waits for a running sync to end, lets the listeners stop what holds credentials (the live
engine, see :mod:`keyfolio.api.live`), drops the open vault (derived key and decrypted
credentials) and the remembered password, and publishes ``vault.status``. Without auto-unlock
it also empties the log redaction registry (keeping the API token), since nothing in the
process holds a credential any more. :meth:`watch` runs it on time; the clock is injectable
and :meth:`wake` makes the watcher look again (tests advance the clock, then wake it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from keyfolio.errors import VaultDecryptError, VaultLockedError
from keyfolio.logging import forget_secrets, register_secret

if TYPE_CHECKING:
    from keyfolio.services.context import App

__all__ = ["LOCKED_HINT", "Clock", "VaultSession"]

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
"""Seconds on a monotonic clock (``time.monotonic``)."""

LOCKED_HINT = (
    "Unlock the vault on the dashboard's Unlock page (or POST /api/v1/vault/unlock with the "
    "password), or start `keyfolio serve` with KEYFOLIO_PASSWORD set."
)
NO_VAULT_HINT = (
    "Create the vault on the dashboard's Unlock page by choosing its password (or POST "
    "/api/v1/vault/unlock with it), or start `keyfolio serve` with KEYFOLIO_PASSWORD set; the "
    "first account you link is stored in it."
)

RelockListener = Callable[[], Awaitable[None]]


def _env_password() -> str | None:
    """KEYFOLIO_PASSWORD, else the first line of the file KEYFOLIO_PASSWORD_FILE names (`keyfolio
    serve` checked at start that it can be read)."""
    value = os.environ.get("KEYFOLIO_PASSWORD")
    if value:
        return value
    name = os.environ.get("KEYFOLIO_PASSWORD_FILE")
    if not name:
        return None
    try:
        return Path(name).expanduser().read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("KEYFOLIO_PASSWORD_FILE cannot be read any more: %s", exc)
        return None


class VaultSession:
    """The vault password, the open vault of ``app`` and its idle re-lock (one per server)."""

    def __init__(
        self,
        app: App,
        *,
        password: str | None = None,
        idle_minutes: float = 15.0,
        clock: Clock = time.monotonic,
        keep_secrets: tuple[str, ...] = (),
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.app = app
        self.idle_seconds = idle_minutes * 60 if idle_minutes > 0 else None
        self._clock = clock
        self._password = password or None
        self._env_refused = False
        self._keep = keep_secrets
        self._busy = busy
        self._lock = threading.Lock()
        self._last_use = clock()
        self._listeners: list[RelockListener] = []
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        if password:
            register_secret(password)

    # -- where the password comes from ----------------------------------------------------

    @property
    def auto_unlock(self) -> bool:
        """KEYFOLIO_PASSWORD is set and not known to be wrong: the server re-opens by itself."""
        return _env_password() is not None and not self._env_refused

    def _known(self) -> str | None:
        if self._password:
            return self._password
        env = _env_password() if not self._env_refused else None
        if env:
            register_secret(env)
        return env

    def provide(self, *, confirm: bool = False) -> str:
        """The App's password provider: never prompts; VaultLockedError when none is known."""
        password = self._known()
        if password is None:
            if not self.exists:
                raise VaultLockedError("there is no vault yet", hint=NO_VAULT_HINT)
            raise VaultLockedError("the vault is locked", hint=LOCKED_HINT)
        return password

    # -- state ------------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self.app.has_vault()

    @property
    def is_open(self) -> bool:
        """The vault is decrypted in memory (or, with no vault yet, its password is held)."""
        return self.app.is_open

    @property
    def unlocked(self) -> bool:
        """Usable without asking the user: open, re-openable from the environment, or (no vault
        yet) a password is known to create it with."""
        if self.is_open or self.auto_unlock:
            return True
        return self._password is not None and not self.exists

    # -- opening ----------------------------------------------------------------------------

    def unlock_blocking(self, password: str | None = None) -> None:
        """Open the vault with ``password`` (or the known one); a VaultError if it is wrong.

        A password for an already open vault is checked and remembered; the open vault stays.
        Argon2 makes this slow on purpose: call it in a worker thread.
        """
        with self._lock:
            if password is None:
                from_env = self._password is None
                try:
                    self.app.unlock()
                except VaultDecryptError:
                    if from_env:
                        self._env_refused = True
                        logger.warning("KEYFOLIO_PASSWORD does not open the vault")
                    raise
                return
            register_secret(password)
            if self.app.is_open and self.exists:
                self.app.check_password(password)
                self._password = password
                return
            previous, self._password = self._password, password
            try:
                self.app.unlock()
            except BaseException:  # keep the previous password on any way out, then re-raise
                self._password = previous
                raise

    async def unlock(self, password: str) -> None:
        """The Unlock page: open (or check) with ``password``; starts a new idle period."""
        await asyncio.to_thread(self.unlock_blocking, password)
        self.touch()
        self._publish("unlock")

    async def ensure_open(self, *, touch: bool) -> None:
        """Open the vault unless it is; VaultLockedError (423) when no password is known.

        ``touch``: this is a use by the user, which restarts the idle period (background
        syncs pass False). Opening always starts a new idle period.
        """
        if not self.is_open:
            if self._known() is None:
                raise VaultLockedError("the vault is locked", hint=LOCKED_HINT)
            await asyncio.to_thread(self.unlock_blocking)
            touch = True
        if touch:
            self.touch()

    async def open_at_start(self) -> None:
        """Open the vault with a password given at start; a wrong one only logs a warning."""
        if self._known() is None or not self.exists:
            return
        try:
            await self.ensure_open(touch=True)
        except VaultDecryptError as exc:
            logger.warning("the vault stays locked: %s", exc.message)

    # -- the idle re-lock -------------------------------------------------------------------

    def on_relock(self, listener: RelockListener) -> None:
        """Call ``listener`` (awaited) on every re-lock, before the vault is dropped."""
        self._listeners.append(listener)

    def touch(self) -> None:
        """A use of the vault by the user: the idle period starts again."""
        self._last_use = self._clock()
        self.wake()

    def seconds_left(self) -> float | None:
        """Seconds until the idle re-lock is due; None if it never is (not open, or disabled)."""
        if self.idle_seconds is None or not self.is_open:
            return None
        return self._last_use + self.idle_seconds - self._clock()

    async def relock_if_idle(self) -> bool:
        """Re-lock if the idle period is over and no sync runs; True if it re-locked."""
        left = self.seconds_left()
        if left is None or left > 0 or self._busy():
            return False
        await self.relock(reason="idle")
        return True

    async def relock(self, *, reason: str) -> None:
        """Stop what holds credentials, drop the open vault and the remembered password."""
        for listener in self._listeners:
            try:
                await listener()
            except Exception:  # a bug: still drop the vault below
                logger.error("a re-lock listener failed", exc_info=True)
        self.app.lock()
        self._password = None
        if not self.auto_unlock:
            env = _env_password()
            forget_secrets(keep=[*self._keep, *([env] if env else [])])
        minutes = (self.idle_seconds or 0) / 60
        logger.info("the vault re-locked (%s, after %g idle minutes)", reason, minutes)
        self._publish(reason)

    def _publish(self, reason: str) -> None:
        self.app.bus.publish("vault.status", {"unlocked": self.unlocked, "reason": reason})

    def wake(self) -> None:
        """Make :meth:`watch` look at the clock again (from any thread)."""
        event, loop = self._wake, self._loop
        if event is None or loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    async def watch(self) -> None:
        """Run until cancelled: re-lock when the idle period is over (the server's lifespan)."""
        self._loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()
        while True:
            wake.clear()
            left = self.seconds_left()
            if left is not None and left <= 0:
                if await self.relock_if_idle():
                    continue
                left = None  # a sync runs: its end wakes us
            try:
                async with asyncio.timeout(left):
                    await wake.wait()
            except TimeoutError:
                pass
