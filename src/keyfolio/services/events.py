"""The in-process event bus: what the live engine and syncs publish, and the API streams.

Event types: ``portfolio.updated`` (data: ``portfolio``, ``account``, ``reason``),
``account.status`` (data: ``account``, ``status``, ``error``, ``hint``, ``source``),
``sync.progress`` (data: ``task``, ``account``, ``event``) and ``vault.status`` (data:
``unlocked``, ``reason``: ``unlock`` or ``idle``; published by `keyfolio serve`). Data values
are JSON-ready (strings for amounts, never floats).

```python
bus = EventBus()
async with bus.subscribe() as events:     # a bounded queue per subscriber
    event = await events.get()
bus.publish("portfolio.updated", {"portfolio": "main", "account": "okx1", "reason": "trade"})
```

``publish`` never blocks and may be called from any thread; a slow subscriber loses its oldest
events (counted in ``Subscription.dropped``) instead of holding up the publisher.

A sink (:meth:`EventBus.add_sink`) also gets every event published here; hosted mode's relay
(:mod:`keyfolio.services.hosted_events`) uses one to send them to the other processes, and
publishes theirs here with ``forward=False``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["EVENT_TYPES", "Event", "EventBus", "Subscription"]

logger = logging.getLogger(__name__)

EVENT_TYPES = frozenset({"portfolio.updated", "account.status", "sync.progress", "vault.status"})


@dataclass(frozen=True)
class Event:
    """One published event; ``id`` increases by one per bus."""

    id: int
    type: str
    data: dict[str, Any]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Subscription:
    """One subscriber's queue. Iterate it, or ``await get()``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, types: frozenset[str], size: int) -> None:
        self._loop = loop
        self.types = types
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    def _offer(self, event: Event) -> None:
        if event.type not in self.types:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    async def get(self) -> Event:
        return await self._queue.get()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self._queue.get()


class EventBus:
    """Fan-out of events to every current subscriber."""

    def __init__(self, *, queue_size: int = 1000) -> None:
        self._subscriptions: set[Subscription] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._queue_size = queue_size
        self._sinks: list[Callable[[Event], None]] = []

    def add_sink(self, sink: Callable[[Event], None]) -> None:
        """Also hand every event published with ``forward`` to ``sink`` (it must not block)."""
        with self._lock:
            self._sinks.append(sink)

    def remove_sink(self, sink: Callable[[Event], None]) -> None:
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)

    def publish(self, type: str, data: dict[str, Any], *, forward: bool = True) -> Event:
        """Send an event to every subscriber (thread-safe, never blocks); with ``forward``
        also to the sinks (``False``: an event relayed from another process)."""
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        with self._lock:
            event = Event(id=next(self._ids), type=type, data=data)
            subscriptions = list(self._subscriptions)
            sinks = list(self._sinks) if forward else []
        for sink in sinks:
            sink(event)
        for subscription in subscriptions:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is subscription._loop:
                subscription._offer(event)
            elif not subscription._loop.is_closed():
                subscription._loop.call_soon_threadsafe(subscription._offer, event)
        logger.debug("event %s %s", event.type, event.id)
        return event

    @asynccontextmanager
    async def subscribe(self, types: frozenset[str] = EVENT_TYPES) -> AsyncIterator[Subscription]:
        """A subscription for the block's duration (must run inside the event loop)."""
        subscription = Subscription(asyncio.get_running_loop(), frozenset(types), self._queue_size)
        with self._lock:
            self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscriptions.discard(subscription)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscriptions)
