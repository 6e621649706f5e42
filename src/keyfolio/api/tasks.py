"""Background syncs: ``POST /api/v1/sync`` starts one, ``GET /api/v1/tasks/{id}`` follows it.

A sync runs :func:`keyfolio.services.sync.sync_accounts` as an asyncio task on the server's
loop. Its progress callback updates the task and publishes ``sync.progress``; the sync service
itself publishes ``account.status`` per account and ``portfolio.updated`` per portfolio.

In hosted mode the server syncs nothing itself: the task sends one job per account to the
workers (:mod:`keyfolio.services.hosted_sync`, as `keyfolio sync` does) and follows their
results; their events reach this server through Redis. The vault need not be unlocked.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, status

from keyfolio.api.deps import StateDep
from keyfolio.api.errors import error_body
from keyfolio.api.models import (
    ErrorOut,
    SyncRequest,
    TaskAccount,
    TaskOut,
    TaskProgress,
    TaskRef,
)
from keyfolio.domain.accounts import AccountSpec
from keyfolio.errors import KeyfolioError, NotFoundError
from keyfolio.services.accounts import list_accounts

if TYPE_CHECKING:
    from collections.abc import Callable

    from keyfolio.api.deps import ServerState
    from keyfolio.services.sync import SyncReport

__all__ = ["SyncTask", "TaskRegistry", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["sync"])

_KEEP = 100  # finished tasks remembered

TaskState = Literal["running", "done", "failed"]


@dataclass
class SyncTask:
    """One background sync."""

    id: str
    total: int
    accounts: dict[str, TaskAccount] = field(default_factory=dict)
    state: TaskState = "running"
    done: int = 0
    error: ErrorOut | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def to_out(self) -> TaskOut:
        return TaskOut(
            id=self.id,
            kind="sync",
            state=self.state,
            progress=TaskProgress(done=self.done, total=self.total),
            accounts=list(self.accounts.values()),
            error=self.error,
        )


class TaskRegistry:
    """Running and recent tasks by id; cancels what still runs on shutdown."""

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._tasks: OrderedDict[str, SyncTask] = OrderedDict()
        self._running: set[asyncio.Task[None]] = set()

    def get(self, task_id: str) -> SyncTask:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise NotFoundError(
                f"no task {task_id!r}",
                hint="Task ids come from POST /api/v1/sync; the server remembers the last "
                f"{_KEEP} and forgets them on restart.",
            ) from None

    @property
    def running(self) -> bool:
        """A sync runs (the idle re-lock waits for it to end)."""
        return any(task.state == "running" for task in self._tasks.values())

    def start_sync(self, specs: list[AccountSpec], names: list[str] | None) -> SyncTask:
        """Start syncing ``specs`` (``names`` None: every account) in the background.

        One sync at a time: while one runs, its task is returned instead of a second one
        (two syncs would only race for the same database rows and rate limits). The sync reads
        the credentials it needs from the vault at its start and drops them at its end
        (:func:`keyfolio.services.sync.sync_accounts`); a vault that re-locked meanwhile is
        re-opened only from ``KEYFOLIO_PASSWORD``, else the task fails as ``vault_locked``.
        """
        for running in self._tasks.values():
            if running.state == "running":
                return running
        task = SyncTask(id=secrets.token_hex(8), total=len(specs))
        for spec in specs:
            task.accounts[spec.name] = TaskAccount(account=spec.name, status="pending")
        self._tasks[task.id] = task
        while len(self._tasks) > _KEEP:
            self._tasks.popitem(last=False)
        runner = asyncio.get_running_loop().create_task(self._run(task, specs, names))
        self._running.add(runner)
        runner.add_done_callback(self._running.discard)
        return task

    async def _run(self, task: SyncTask, specs: list[AccountSpec], names: list[str] | None) -> None:
        from keyfolio.services.sync import sync_accounts

        app = self._state.app
        bus = app.bus

        def progress(account: str, event: str) -> None:
            if event != "start":
                task.done += 1
            task.accounts[account] = TaskAccount(
                account=account, status="syncing" if event == "start" else event
            )
            bus.publish("sync.progress", {"task": task.id, "account": account, "event": event})

        stop = threading.Event()
        try:
            if app.settings.is_hosted:
                merged = await self._via_workers(task, specs, progress, stop)
                self._finish_json(task, merged)
                return
            if specs:
                await self._state.vault.ensure_open(touch=False)  # Argon2 off the event loop
            report = await sync_accounts(app, names=names, progress=progress)
        except asyncio.CancelledError:
            stop.set()
            task.state = "failed"
            task.error = _error("cancelled", "the server stopped", "Start the sync again.")
            raise
        except KeyfolioError as exc:
            task.state = "failed"
            task.error = _error(exc.code, exc.message, exc.hint)
        except Exception as exc:  # a bug: logged with its traceback, the task says "internal"
            logger.error("sync task %s crashed", task.id, exc_info=exc)
            task.state = "failed"
            task.error = _error(
                "internal", f"unexpected {type(exc).__name__} in the sync", "See the server log."
            )
        else:
            self._finish(task, report)
        finally:
            task.finished.set()
            self._state.vault.wake()  # a re-lock may have waited for this sync

    async def _via_workers(
        self,
        task: SyncTask,
        specs: list[AccountSpec],
        progress: Callable[[str, str], None],
        stop: threading.Event,
    ) -> dict[str, Any]:
        """Hosted mode: one job per account to the workers; their merged results."""
        from keyfolio.services.hosted_sync import send_sync, wait_for_results

        app = self._state.app
        loop = asyncio.get_running_loop()
        sent = await asyncio.to_thread(send_sync, app, [spec.name for spec in specs])
        for name in sent.names:
            progress(name, "start")

        def arrived(name: str, status: str) -> None:
            loop.call_soon_threadsafe(progress, name, status)

        return await asyncio.to_thread(wait_for_results, app, sent, on_result=arrived, stop=stop)

    def _finish_json(self, task: SyncTask, report: dict[str, Any]) -> None:
        """Record each account's outcome from the workers' merged report."""
        for entry in report["accounts"]:
            task.accounts[entry["name"]] = TaskAccount(
                account=entry["name"], status=entry["status"], error=entry["error"],
                hint=entry["hint"],
            )  # fmt: skip
        task.done = len(report["accounts"])
        task.state = "done"

    def _finish(self, task: SyncTask, report: SyncReport) -> None:
        """Record each account's outcome (the sync service publishes the events)."""
        for outcome in report.outcomes:
            error = hint = None
            if outcome.error is not None:
                error, hint = outcome.error.message, outcome.error.hint
            elif outcome.status == "failed":
                failed = next((r for r in outcome.results if not r.is_ok), None)
                error, hint = (failed.error, failed.hint) if failed else (None, None)
            task.accounts[outcome.account] = TaskAccount(
                account=outcome.account, status=outcome.status, error=error, hint=hint
            )
        task.done = len(report.outcomes)
        task.state = "done"

    async def wait(self, task_id: str) -> SyncTask:
        """Wait until the task ends (wrap it in ``asyncio.timeout``)."""
        task = self.get(task_id)
        await task.finished.wait()
        return task

    async def cancel_all(self) -> None:
        """Cancel every running task and wait for them (server shutdown)."""
        running = list(self._running)
        for runner in running:
            runner.cancel()
        await asyncio.gather(*running, return_exceptions=True)


def _error(code: str, message: str, hint: str) -> ErrorOut:
    return ErrorOut.model_validate(error_body(code, message, hint))


def _select(state: ServerState, names: list[str] | None) -> list[AccountSpec]:
    from keyfolio.services.imports import MANUAL_EXCHANGE

    every = list_accounts(state.ready())
    specs = [spec for spec in every if spec.exchange != MANUAL_EXCHANGE]  # never contacted
    if names is None:
        return specs
    manual = {spec.name for spec in every} - {spec.name for spec in specs}
    names = [name for name in names if name not in manual]
    by_name = {spec.name: spec for spec in specs}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise NotFoundError(
            f"no account named {', '.join(repr(n) for n in missing)}",
            hint="GET /api/v1/accounts lists the linked accounts.",
        )
    return [by_name[name] for name in dict.fromkeys(names)]


@router.post("/sync", status_code=status.HTTP_202_ACCEPTED, response_model=TaskRef)
async def start_sync(state: StateDep, body: SyncRequest | None = None) -> TaskRef:
    """Start a background sync of the named accounts (default: all); returns the task id."""
    names = body.accounts if body is not None and body.accounts else None
    specs = await asyncio.to_thread(_select, state, names)
    if specs and not state.settings.is_hosted:  # hosted: the workers hold the keys
        await state.ensure_unlocked()
    task = state.tasks.start_sync(specs, [spec.name for spec in specs] if names else None)
    return TaskRef(task=task.id)


@router.get("/tasks/{task_id}", response_model=TaskOut)
def get_task(task_id: str, state: StateDep) -> TaskOut:
    """A task's state and progress."""
    return state.tasks.get(task_id).to_out()
