"""Helpers for the stream tests: a recorder of callbacks, a task that runs for a block."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from keyfolio.exchanges.stream import Backoff

FAST = Backoff(base=0.02, cap=0.1)


class Recorder:
    """Collects callbacks into a queue the test awaits (bounded by a timeout)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.backlog: list[Any] = []

    def __call__(self, item: Any) -> None:
        self.queue.put_nowait(item)

    async def next(self, kind: type, timeout: float = 30.0) -> Any:
        """The oldest item of ``kind`` not taken yet (others stay for later calls)."""
        for item in self.backlog:
            if isinstance(item, kind):
                self.backlog.remove(item)
                return item
        while True:
            item = await asyncio.wait_for(self.queue.get(), timeout)
            if isinstance(item, kind):
                return item
            self.backlog.append(item)


@contextlib.asynccontextmanager
async def running(coro: Any) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
