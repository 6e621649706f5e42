"""The server's state (one per FastAPI app) and the dependency that hands it to routes.

:class:`ServerState` owns the services :class:`~keyfolio.services.context.App`, the
:class:`~keyfolio.api.vault_session.VaultSession` (where the vault password comes from, the
open vault and its idle re-lock), the background tasks, the live runner and the event streams.
The App's password provider never prompts: it answers from the vault session, and otherwise
raises :class:`~keyfolio.errors.VaultLockedError` (HTTP 423). Read-only routes never need the
vault.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from keyfolio.api.vault_session import Clock, VaultSession
from keyfolio.config import Settings
from keyfolio.services.context import App

if TYPE_CHECKING:
    from keyfolio.api.events import EventStreams
    from keyfolio.api.live import LiveRunner
    from keyfolio.api.tasks import TaskRegistry

__all__ = ["ServerState", "StateDep", "get_state"]


class ServerState:
    """Everything the routes share: the App, the vault session, tasks and the live runner."""

    def __init__(
        self,
        settings: Settings,
        *,
        password: str | None = None,
        token: str | None = None,
        live: bool = True,
        clock: Clock = time.monotonic,
    ) -> None:
        from keyfolio.api.events import EventStreams
        from keyfolio.api.live import LiveRunner
        from keyfolio.api.tasks import TaskRegistry

        self.settings = settings
        self.token = token
        self.live_enabled = live
        self._lock = threading.Lock()
        self._db_ready = False
        self.app = App(settings=settings, password=self._provide_password)
        self.tasks: TaskRegistry = TaskRegistry(self)
        self.vault = VaultSession(
            self.app,
            password=password,
            idle_minutes=settings.vault_idle_minutes,
            clock=clock,
            keep_secrets=(token,) if token else (),
            busy=lambda: self.tasks.running,
        )
        self.live: LiveRunner = LiveRunner(self)
        self.streams: EventStreams = EventStreams()
        self.masked_keys: dict[str, str] = {}
        """The accounts' masked API keys (``a1b2…e9f0``), kept while the vault is locked."""

    def _provide_password(self, *, confirm: bool = False) -> str:
        return self.vault.provide(confirm=confirm)

    def ready(self) -> App:
        """The App, with its database opened and migrated (once, thread-safe)."""
        if not self._db_ready:
            with self._lock:
                self.app.db()
                self._db_ready = True
        return self.app

    @property
    def vault_exists(self) -> bool:
        return self.vault.exists

    @property
    def unlocked(self) -> bool:
        """The vault can be used without asking the user (see :class:`VaultSession`)."""
        return self.vault.unlocked

    async def ensure_unlocked(self) -> None:
        """For a route acting for the user: open the vault (423 if no password is known) and
        restart its idle period."""
        await self.vault.ensure_open(touch=True)


def get_state(request: Request) -> ServerState:
    """The :class:`ServerState` of the app serving ``request``."""
    state: ServerState = request.app.state.keyfolio
    return state


StateDep = Annotated[ServerState, Depends(get_state)]
