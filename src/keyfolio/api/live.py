"""What keeps the served portfolio fresh: the live engine, or a polling sync.

In hosted mode (``KEYFOLIO_BROKER_URL``) nothing syncs here: the workers do, and their events
arrive through Redis (:mod:`keyfolio.services.hosted_events`). Starting, and linking or
removing accounts, sends a sync job per account to the queue at once (mode ``hosted``).

On startup the server runs :class:`keyfolio.services.live.LiveEngine` when it is importable,
live mode is on (no ``--no-live``) and the vault is unlocked. Otherwise it syncs every
``poll_seconds`` through the same task registry as ``POST /api/v1/sync`` (so the polls publish
the same events). Unlocking the vault later, or linking and removing accounts, restarts it.

**Locked** (mode ``locked``): the vault exists and no password is known (never unlocked, or
re-locked after being idle). Nothing runs in the background then: no stream, no poll, no
connector, so no credential is held. When the vault re-locks without ``KEYFOLIO_PASSWORD``
(:mod:`keyfolio.api.vault_session`), the runner stops the live engine first (its WebSockets
close and its connectors, which hold the credentials of the accounts they read, are closed)
and publishes ``account.status`` ``locked`` for every account; unlocking starts it again,
and its first poll and the streams' snapshots catch up with what changed meanwhile. With
``KEYFOLIO_PASSWORD`` the server can re-open the vault by itself, so the engine keeps running
(with the credentials it read at its start) across re-locks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

from keyfolio.api.vault_session import LOCKED_HINT
from keyfolio.errors import KeyfolioError, NotFoundError, VaultError
from keyfolio.services.accounts import list_accounts

if TYPE_CHECKING:
    from keyfolio.api.deps import ServerState
    from keyfolio.services.live import LiveEngine

__all__ = ["LiveRunner", "RefreshMode"]

logger = logging.getLogger(__name__)

RefreshMode = Literal["live", "polling", "locked", "hosted", "off"]


class LiveRunner:
    """Runs the live engine or the polling loop as one background task."""

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._task: asyncio.Task[None] | None = None
        self.mode: RefreshMode = "off"
        self._started = False
        self._engine: LiveEngine | None = None
        state.vault.on_relock(self._relocking)

    @property
    def statuses(self) -> dict[str, str]:
        """Per account, the live engine's state (live, reconnecting, polling, failed)."""
        engine = self._engine
        return engine.statuses if engine is not None and self.is_live else {}

    @property
    def is_live(self) -> bool:
        return self.mode == "live" and self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the engine (or polling). Called by the server's lifespan."""
        self._started = True
        await self._state.vault.open_at_start()
        await self._launch()

    async def restart(self) -> None:
        """Pick up a newly unlocked vault or changed accounts (no-op before start)."""
        if not self._started:
            return
        await self._cancel()
        if not self._started:  # the server stopped meanwhile: launching now would leak a task
            return
        await self._launch()

    async def stop(self) -> None:
        """Stop whatever runs; called on shutdown."""
        self._started = False
        await self._cancel()
        self.mode = "off"

    async def _cancel(self) -> None:
        task, self._task = self._task, None
        self._engine = None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])  # how it ended was logged by _log_end

    @staticmethod
    def _log_end(task: asyncio.Task[None]) -> None:
        """A runner that ends with an exception is a bug (they catch what they expect)."""
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error("the server's %s task crashed", task.get_name(), exc_info=exc)

    async def _relocking(self) -> None:
        """The vault re-locks: without auto-unlock, stop everything that holds credentials."""
        if not self._started or self._state.vault.auto_unlock:
            return
        await self._cancel()
        self.mode = "locked"
        await self._publish_locked()

    async def _publish_locked(self) -> None:
        state = self._state
        specs = await asyncio.to_thread(list_accounts, state.ready())
        for spec in specs:
            if spec.is_manual:
                continue
            state.app.bus.publish(
                "account.status",
                {
                    "account": spec.name,
                    "portfolio": spec.portfolio,
                    "status": "locked",
                    "error": "the vault is locked: balances are not refreshed",
                    "hint": LOCKED_HINT,
                    "source": None,
                },
            )

    async def _launch(self) -> None:
        state = self._state
        runner: Callable[[], Awaitable[None]]
        if state.settings.is_hosted:  # `keyfolio worker` processes sync; linked ones at once
            self.mode = "hosted"
            await asyncio.to_thread(self._enqueue_now)  # the jobs carry no secret
            return
        if not state.unlocked and state.vault_exists:
            self.mode = "locked"
            return
        if state.live_enabled and state.unlocked:
            self.mode = "live"
            runner = self._run_engine
        else:
            self.mode = "polling"
            runner = self._poll
        self._task = asyncio.get_running_loop().create_task(runner(), name=f"keyfolio-{self.mode}")
        self._task.add_done_callback(self._log_end)

    def _enqueue_now(self) -> None:
        from keyfolio.services.hosted import enqueue_now

        try:
            enqueue_now(self._state.ready())
        except KeyfolioError as exc:
            logger.warning("could not send the sync jobs: %s", exc.message)

    async def _run_engine(self) -> None:
        from keyfolio.services.live import LiveEngine

        state = self._state
        try:
            app = await asyncio.to_thread(state.ready)
            self._engine = engine = LiveEngine(app, poll_seconds=state.settings.poll_seconds)
            if state.vault_exists:
                await state.vault.ensure_open(touch=False)  # Argon2 off the event loop
            await engine.run()
        except asyncio.CancelledError:
            raise
        except VaultError as exc:  # KEYFOLIO_PASSWORD found wrong: the Unlock page restarts us
            logger.warning("the live engine waits for an unlock: %s", exc.message)
            self.mode = "locked"
            self._engine = None
            return
        except NotFoundError as exc:  # no account yet: linking one restarts the engine
            logger.info("live engine not started (%s); polling until an account is linked", exc)
        except KeyfolioError as exc:
            logger.warning("the live engine stopped (%s); polling instead", exc.message)
        except Exception:  # a bug: logged with its traceback; the dashboard stays fresh
            logger.error("the live engine crashed (a bug in keyfolio); polling", exc_info=True)
        self.mode = "polling"
        await self._poll()

    async def _poll(self) -> None:
        state = self._state
        while True:
            await asyncio.sleep(state.settings.poll_seconds)
            try:
                specs = await asyncio.to_thread(list_accounts, state.ready())
                if not specs or not state.unlocked:
                    continue
                task = state.tasks.start_sync(specs, None)
                await task.finished.wait()
            except asyncio.CancelledError:
                raise
            except KeyfolioError as exc:
                logger.warning("polling sync failed: %s", exc.message)
            except Exception:  # a bug: logged with its traceback; the next round still runs
                logger.error("polling sync crashed (a bug in keyfolio)", exc_info=True)
