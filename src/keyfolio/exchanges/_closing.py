"""Closes that a cancellation cannot cut short.

A task is often cancelled while it is closing something: `keyfolio watch` stops on Ctrl-C by
cancelling the live engine, whose price refresh opens and closes a connector pool on every poll.
A close cut at its first ``await`` leaves ccxt clients holding the pool's aiohttp session and
the session open: ccxt's "requires to release all resources" and aiohttp's "Unclosed client
session" at exit. :func:`finish_closing` runs a close to its end in a task of its own, then
raises the caller's cancellation, so a cancelled caller still stops, but only once everything
is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["finish_closing"]


async def finish_closing(closing: Coroutine[Any, Any, None]) -> None:
    """Await ``closing`` to its end even if the calling task is cancelled meanwhile (once or
    more), then raise that cancellation. An error of the close itself is raised as it is."""
    task = asyncio.ensure_future(closing)
    interrupted: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            interrupted = exc  # our caller was cancelled: the close goes on
    if interrupted is not None and (task.cancelled() or task.exception() is None):
        raise interrupted
    task.result()
