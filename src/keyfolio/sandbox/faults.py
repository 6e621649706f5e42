"""Injected failures: the next N requests to a path fail in a chosen way.

Modes (applied before authentication):

* ``http500``   HTTP 500, ``{"code":"50026","msg":"System error. Try again later"}``
* ``code50001`` HTTP 503, ``{"code":"50001","msg":"Service temporarily unavailable..."}``
* ``code50011`` HTTP 429, ``{"code":"50011","msg":"Too Many Requests"}``
* ``malformed`` HTTP 200 with a truncated, non-JSON body
* ``timeout``   the request is held ``seconds`` (default 30) -- longer than a client's
  timeout -- then answered ``50004`` (HTTP 400); releasing it or a server shutdown ends the
  wait early.
* ``hold``      the request is held until the control API releases it (or the server
  stops), then answered normally.

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

__all__ = ["MALFORMED_BODY", "MODES", "Fault", "FaultQueue", "HeldRequest", "parse_fault"]

MODES = ("http500", "code50001", "timeout", "malformed", "code50011", "hold")
MALFORMED_BODY = '{"code":"0","msg":"","data":[{"ccy":"BTC","bal":"0.'


@dataclass
class Fault:
    """One queued fault with its remaining count (and matches still to let through)."""

    path: str
    mode: str
    count: int
    seconds: float = 30.0
    after: int = 0


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
        raise ValueError('path must be a request path such as "/api/v5/asset/balances" or "*"')
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError("seconds must be a non-negative number")
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise ValueError("after must be a non-negative integer")
    return Fault(path=path, mode=mode, count=count, seconds=float(seconds), after=after)


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

    async def wait_held(self) -> list[dict[str, Any]]:
        """The held requests, once there is at least one."""
        while not self._held:
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
