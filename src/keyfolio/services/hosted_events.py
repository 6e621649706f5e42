"""Hosted mode's live events across processes: Redis pub/sub between every event bus.

A worker's sync publishes ``account.status`` and ``portfolio.updated`` on its own
:class:`~keyfolio.services.events.EventBus`; its :class:`EventRelay` sends them to the channel
``<namespace>:events``. Every `keyfolio serve` runs a relay that also receives: the events of
the other processes are published on its bus, so each dashboard's event stream stays live when
the sync ran on another machine. ``vault.status`` stays in its process (each server has its own
unlocked vault). Event data is JSON-ready and never holds a secret.

Sending runs on a thread of its own (``publish`` on the bus never waits for Redis); a message
that cannot be sent (Redis down) is logged and dropped: events are news, the database is the
record, and the dashboard re-reads it on the next event or page load.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from typing import TYPE_CHECKING, Any

from keyfolio.config import Settings
from keyfolio.services.events import Event, EventBus

if TYPE_CHECKING:
    import redis

__all__ = ["RELAYED_TYPES", "EventRelay", "events_channel"]

logger = logging.getLogger(__name__)

RELAYED_TYPES = frozenset({"portfolio.updated", "account.status", "sync.progress"})
_POLL_SECONDS = 0.5


def events_channel(settings: Settings) -> str:
    """The Redis channel of this deployment's events."""
    return f"{settings.broker_namespace}:events"


class EventRelay:
    """Sends this process's events to Redis; with ``receive``, publishes the others' here."""

    def __init__(self, settings: Settings, bus: EventBus, *, receive: bool) -> None:
        import redis

        assert settings.broker_url, "hosted mode only"
        self._bus = bus
        self._receive = receive
        self._channel = events_channel(settings)
        self._origin = uuid.uuid4().hex
        self._client: redis.Redis = redis.Redis.from_url(settings.broker_url)
        self._outbox: queue.Queue[Event | None] = queue.Queue(maxsize=10_000)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pubsub: redis.client.PubSub | None = None

    def start(self) -> None:
        """Subscribe (when receiving) before returning, then relay on background threads."""
        if self._receive:
            self._pubsub = self._client.pubsub(  # type: ignore[no-untyped-call]
                ignore_subscribe_messages=True
            )
            self._pubsub.subscribe(self._channel)
            self._threads.append(
                threading.Thread(target=self._receive_loop, name="keyfolio-events-in", daemon=True)
            )
        self._threads.append(
            threading.Thread(target=self._send_loop, name="keyfolio-events-out", daemon=True)
        )
        for thread in self._threads:
            thread.start()
        self._bus.add_sink(self._offer)
        logger.info("relaying events through Redis channel %s", self._channel)

    def close(self) -> None:
        """Send what is queued, stop the threads and close the connections."""
        self._bus.remove_sink(self._offer)
        self._outbox.put(None)
        self._stop.set()
        for thread in self._threads:
            thread.join()
        if self._pubsub is not None:
            self._pubsub.close()
        self._client.close()

    def _offer(self, event: Event) -> None:
        if event.type not in RELAYED_TYPES:
            return
        try:
            self._outbox.put_nowait(event)
        except queue.Full:
            logger.warning("events relay: Redis is behind; dropped a %s event", event.type)

    def _send_loop(self) -> None:
        import redis

        while (event := self._outbox.get()) is not None:
            message = {"origin": self._origin, "type": event.type, "data": event.data}
            try:
                self._client.publish(self._channel, json.dumps(message))
            except redis.RedisError as exc:
                logger.warning("events relay: could not send a %s event (%s)", event.type, exc)

    def _receive_loop(self) -> None:
        import redis

        assert self._pubsub is not None
        while not self._stop.is_set():
            try:
                message = self._pubsub.get_message(timeout=_POLL_SECONDS)
            except redis.RedisError as exc:
                logger.warning("events relay: lost Redis (%s); retrying", exc)
                self._stop.wait(_POLL_SECONDS)
                continue
            if message is not None:
                self._deliver(message.get("data"))

    def _deliver(self, raw: Any) -> None:
        try:
            message = json.loads(raw)
            kind, data = message["type"], message["data"]
        except (TypeError, ValueError, KeyError):
            logger.warning("events relay: ignored a message that is not a keyfolio event")
            return
        if message.get("origin") == self._origin or kind not in RELAYED_TYPES:
            return
        if isinstance(data, dict):
            self._bus.publish(kind, data, forward=False)
