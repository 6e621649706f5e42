"""The server's state (one per FastAPI app) and the dependency that hands it to routes.

:class:`ServerState` owns the services :class:`~keyfolio.services.context.App` and the vault
password. The App's password provider never prompts: it answers from a password given at start
(``keyfolio serve`` reads ``KEYFOLIO_PASSWORD`` or prompts in its terminal) or through
``POST /api/v1/vault/unlock``, and otherwise raises :class:`~keyfolio.errors.VaultLockedError`
(HTTP 423). Read-only routes never need the vault.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from keyfolio.config import Settings
from keyfolio.errors import VaultError, VaultLockedError
from keyfolio.logging import register_secret
from keyfolio.services.context import App, PasswordProvider

if TYPE_CHECKING:
    from keyfolio.api.events import EventStreams
    from keyfolio.api.live import LiveRunner
    from keyfolio.api.tasks import TaskRegistry

__all__ = ["ServerState", "StateDep", "get_state"]

logger = logging.getLogger(__name__)

_LOCKED_HINT = (
    "Unlock the vault on the dashboard's Unlock page (or POST /api/v1/vault/unlock with the "
    "password), or start `keyfolio serve` with KEYFOLIO_PASSWORD set."
)


class ServerState:
    """Everything the routes share: the App, the vault password, tasks and the live runner."""

    def __init__(
        self,
        settings: Settings,
        *,
        app: App | None = None,
        password: str | None = None,
        token: str | None = None,
        live: bool = True,
    ) -> None:
        self.settings = settings
        self.token = token
        self.live_enabled = live
        self._password = password
        self._unlocked = False
        self._lock = threading.Lock()
        self._db_ready = False
        if password:
            register_secret(password)
        if app is None:
            app = App(settings=settings, password=self._provide_password)
        else:
            fallback = app.password
            app.password = self._chained(fallback)
        self.app = app
        from keyfolio.api.events import EventStreams
        from keyfolio.api.live import LiveRunner
        from keyfolio.api.tasks import TaskRegistry

        self.tasks: TaskRegistry = TaskRegistry(self)
        self.live: LiveRunner = LiveRunner(self)
        self.streams: EventStreams = EventStreams()

    # -- the vault password -------------------------------------------------------------------

    def _known_password(self) -> str | None:
        if self._password:
            return self._password
        env = os.environ.get("KEYFOLIO_PASSWORD")
        if env:
            register_secret(env)
            return env
        return None

    def _provide_password(self, *, confirm: bool = False) -> str:
        password = self._known_password()
        if password is None:
            raise VaultLockedError("the vault is locked", hint=_LOCKED_HINT)
        return password

    def _chained(self, fallback: PasswordProvider) -> PasswordProvider:
        def provide(*, confirm: bool = False) -> str:
            password = self._known_password()
            return password if password is not None else fallback(confirm=confirm)

        return provide

    # -- lifecycle helpers ----------------------------------------------------------------------

    def ready(self) -> App:
        """The App, with its database opened and migrated (once, thread-safe)."""
        if not self._db_ready:
            with self._lock:
                self.app.db()
                self._db_ready = True
        return self.app

    @property
    def vault_exists(self) -> bool:
        return self.app.has_vault()

    @property
    def unlocked(self) -> bool:
        """True once the vault is open (or, with no vault yet, a password is known)."""
        if self._unlocked:
            return True
        return not self.vault_exists and self._known_password() is not None

    def mark_unlocked(self) -> None:
        """Record that the App holds an open vault (after linking created one)."""
        self._unlocked = True

    def unlock_blocking(self, password: str | None = None) -> None:
        """Open the vault with ``password`` (or the known one); raises a VaultError if wrong.

        Argon2 makes this slow on purpose: call it in a worker thread.
        """
        with self._lock:
            previous = self._password
            if password is not None:
                register_secret(password)
                self._password = password
            try:
                if self._unlocked and password is not None and self.vault_exists:
                    from keyfolio.vault import Vault

                    Vault.open(self.settings.vault_path, password)  # check it, keep the open one
                else:
                    self.app.unlock()
                    self._unlocked = self.vault_exists
            except BaseException:
                self._password = previous
                raise

    async def ensure_unlocked(self) -> None:
        """Raise VaultLockedError (423) unless the vault can be opened without a prompt."""
        if self.unlocked:
            return
        if self._known_password() is None:
            raise VaultLockedError("the vault is locked", hint=_LOCKED_HINT)
        await asyncio.to_thread(self.unlock_blocking)

    async def try_unlock_at_start(self) -> None:
        """Open the vault with a password given at start; a wrong one only logs a warning."""
        if self._known_password() is None or not self.vault_exists:
            return
        try:
            await self.ensure_unlocked()
        except VaultError as exc:
            logger.warning("the vault stays locked: %s", exc.message)


def get_state(request: Request) -> ServerState:
    """The :class:`ServerState` of the app serving ``request``."""
    state: ServerState = request.app.state.keyfolio
    return state


StateDep = Annotated[ServerState, Depends(get_state)]
