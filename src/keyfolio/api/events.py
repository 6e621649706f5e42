"""``GET /api/v1/events``: the event bus as Server-Sent Events.

Each bus event becomes ``event: <type>`` / ``id: <n>`` / ``data: <json>``; a comment line is
sent as a keepalive every 15 s. The stream ends when the client disconnects or the server
shuts down (:meth:`EventStreams.close_all`, called first thing on shutdown, so open streams
never hold the server up).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from keyfolio.api.deps import StateDep
from keyfolio.services.events import EVENT_TYPES, EventBus

__all__ = ["KEEPALIVE_SECONDS", "EventStreams", "router"]

router = APIRouter(tags=["events"])

KEEPALIVE_SECONDS = 15.0


class EventStreams:
    """Tracks open SSE streams so shutdown can end them."""

    def __init__(self) -> None:
        self._closing: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._closing is None:
            self._closing = asyncio.Event()
        return self._closing

    def close_all(self) -> None:
        """End every open stream (call on the server's loop)."""
        self._event().set()

    def reopen(self) -> None:
        self._closing = None

    async def stream(
        self, bus: EventBus, request: Request, types: frozenset[str]
    ) -> AsyncIterator[ServerSentEvent]:
        """Yield bus events until disconnect or shutdown."""
        closing = self._event()
        if closing.is_set():
            return
        async with bus.subscribe(types) as subscription:
            # an empty comment at once: headers reach the client before the first event
            yield ServerSentEvent(comment="connected")
            while not closing.is_set():
                getter = asyncio.ensure_future(subscription.get())
                stopper = asyncio.ensure_future(closing.wait())
                try:
                    done, _ = await asyncio.wait({getter, stopper}, return_when="FIRST_COMPLETED")
                finally:
                    for future in (getter, stopper):
                        if not future.done():
                            future.cancel()
                            with contextlib.suppress(asyncio.CancelledError):
                                await future
                if getter not in done:
                    return
                event = getter.result()
                if await request.is_disconnected():
                    return
                yield ServerSentEvent(
                    data=json.dumps(event.data, separators=(",", ":")),
                    event=event.type,
                    id=str(event.id),
                )


def _types(text: str | None) -> frozenset[str]:
    if not text:
        return EVENT_TYPES
    wanted = frozenset(part.strip() for part in text.split(",") if part.strip())
    return wanted & EVENT_TYPES or EVENT_TYPES


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "an event stream"}},
)
async def events(
    request: Request,
    state: StateDep,
    types: Annotated[
        str | None,
        Query(
            max_length=200,
            description="comma-separated event types (default: portfolio.updated, "
            "account.status, sync.progress, vault.status)",
        ),
    ] = None,
    token: Annotated[
        str | None,
        Query(max_length=512, description="the API token, for EventSource (no headers)"),
    ] = None,
) -> EventSourceResponse:
    """Live events: ``portfolio.updated``, ``account.status``, ``sync.progress`` and
    ``vault.status``."""
    del token  # checked by the security middleware
    return EventSourceResponse(
        state.streams.stream(state.app.bus, request, _types(types)),
        ping=int(KEEPALIVE_SECONDS),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
