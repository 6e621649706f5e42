"""Injected failures: the next N requests to a path fail in a chosen way, in the venue's envelope.

Modes (applied before authentication; the venue renders each in its own error shape):

* ``http500``     an internal error with HTTP 500 (OKX ``50026``, Binance ``-1001``, ...)
* ``unavailable`` maintenance / service unavailable, HTTP 503 (OKX ``50001``); alias ``code50001``
* ``rate_limit``  the venue's rate-limit answer (HTTP 429 with ``Retry-After`` where the venue
  sends one; OKX ``50011``); alias ``code50011``
* ``malformed``   HTTP 200 with a truncated, non-JSON body
* ``reset``       HTTP 200 headers announcing a full JSON body, part of that body, then the
  connection is aborted (a reset mid-body: the client's read fails, not its JSON parser)
* ``timeout``     the request is held ``seconds`` (default 30) -- longer than a client's
  timeout -- then answered with the venue's timeout error; releasing it or a server shutdown
  ends the wait early.
* ``hold``        the request is held until the control API releases it (or the server
  stops), then answered normally.
* ``not_found``   the venue's answer for a path it does not have (an endpoint an older
  deployment lacks: Kraken's ``GetApiKeyInfo`` -> ``EGeneral:Unknown method``)

Held requests (``hold`` and ``timeout``) are listed with an id, so a test can wait for
"request N is held" and act at that known point, then release it.

``path`` is an exact request path (no query) or ``"*"`` for every private path. ``after``
lets the first N matching requests through (to later faults, or to the normal answer); the
fault applies from the next one on, so "the third page fails" is ``after: 2``.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ALIASES", "MODES", "Fault", "FaultQueue", "HeldRequest", "parse_fault"]

MODES = (
    "http500",
    "unavailable",
    "rate_limit",
    "timeout",
    "malformed",
    "reset",
    "hold",
    "not_found",
)
ALIASES = {"code50001": "unavailable", "code50011": "rate_limit"}
"""OKX's historical mode names, still accepted."""


@dataclass
class Fault:
    """One queued fault with its remaining count (and matches still to let through).
    ``mode`` is as given (aliases kept)."""

    path: str
    mode: str
    count: int
    seconds: float = 30.0
    after: int = 0

    @property
    def kind(self) -> str:
        """The canonical mode (``code50001`` -> ``unavailable``)."""
        return ALIASES.get(self.mode, self.mode)


@dataclass(eq=False)
class HeldRequest:
    """A request stopped by a ``hold`` fault until it is released."""

    id: int
    method: str
    path: str
    released: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "method": self.method, "path": self.path}


def parse_fault(body: Any) -> Fault:
    """Validate a ``POST /__sandbox__/faults`` body; raises ``ValueError`` with the reason."""
    if not isinstance(body, dict):
        raise ValueError('expected an object like {"path": "...", "mode": "http500", "count": 1}')
    unknown = set(body) - {"path", "mode", "count", "seconds", "after"}
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    path, mode = body.get("path"), body.get("mode")
    count, seconds = body.get("count", 1), body.get("seconds", 30)
    after = body.get("after", 0)
    if not isinstance(path, str) or not (path == "*" or path.startswith("/")):
        raise ValueError('path must be a request path such as "/api/v3/account" or "*"')
    if mode not in MODES and mode not in ALIASES:
        raise ValueError(f"mode must be one of {', '.join((*MODES, *ALIASES))}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError("seconds must be a non-negative number")
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ValueError("after must be a non-negative integer")
    return Fault(path=path, mode=str(mode), count=count, seconds=float(seconds), after=after)


class FaultQueue:
    """Faults in the order they were added; each request consumes one unit of the first
    matching fault that has let its ``after`` requests through. Also the held requests."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._held: dict[int, HeldRequest] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()

    def add(self, fault: Fault) -> None:
        """Queue a fault."""
        self._faults.append(fault)

    def take(self, path: str, *, private: bool) -> Fault | None:
        """Consume one unit of the first applying fault matching ``path``, if any."""
        for fault in self._faults:
            if fault.path == path or (fault.path == "*" and private):
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        """Drop every queued fault (held requests stay held)."""
        self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        """The queued faults as JSON-ready dicts."""
        return [asdict(f) for f in self._faults]

    async def hold(
        self, method: str, path: str, stopping: asyncio.Event, seconds: float | None = None
    ) -> None:
        """Block the calling request until it is released, ``stopping`` is set or (with
        ``seconds``) that time has passed. It is listed by :meth:`held` meanwhile."""
        held = HeldRequest(id=next(self._ids), method=method, path=path)
        self._held[held.id] = held
        self._changed.set()
        waiters = {
            asyncio.ensure_future(held.released.wait()),
            asyncio.ensure_future(stopping.wait()),
        }
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            self._held.pop(held.id, None)

    def held(self) -> list[dict[str, Any]]:
        """The requests held right now, oldest first."""
        return [held.describe() for held in self._held.values()]

    async def wait_held(self, count: int = 1) -> list[dict[str, Any]]:
        """The held requests, once there are at least ``count``."""
        while len(self._held) < count:
            self._changed.clear()
            await self._changed.wait()
        return self.held()

    def release(self, request_id: int | None = None) -> int:
        """Release one held request (by id) or all of them; returns how many."""
        targets = list(self._held.values())
        if request_id is not None:
            targets = [held for held in targets if held.id == request_id]
        for held in targets:
            del self._held[held.id]
            held.released.set()
        return len(targets)
