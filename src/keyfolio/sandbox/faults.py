"""Injected failures: the next N requests to a path fail in a chosen way.

Modes (applied before authentication):

* ``http500``   HTTP 500, ``{"code":"50026","msg":"System error. Try again later"}``
* ``code50001`` HTTP 503, ``{"code":"50001","msg":"Service temporarily unavailable..."}``
* ``code50011`` HTTP 429, ``{"code":"50011","msg":"Too Many Requests"}``
* ``malformed`` HTTP 200 with a truncated, non-JSON body
* ``timeout``   the request is held ``seconds`` (default 30) -- longer than a client's
  timeout -- then answered ``50004`` (HTTP 400); a server shutdown releases it early.

``path`` is an exact request path (no query) or ``"*"`` for every private path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["MALFORMED_BODY", "MODES", "Fault", "FaultQueue", "parse_fault"]

MODES = ("http500", "code50001", "timeout", "malformed", "code50011")
MALFORMED_BODY = '{"code":"0","msg":"","data":[{"ccy":"BTC","bal":"0.'


@dataclass
class Fault:
    """One queued fault with its remaining count."""

    path: str
    mode: str
    count: int
    seconds: float = 30.0


def parse_fault(body: Any) -> Fault:
    """Validate a ``POST /__sandbox__/faults`` body; raises ``ValueError`` with the reason."""
    if not isinstance(body, dict):
        raise ValueError('expected an object like {"path": "...", "mode": "http500", "count": 1}')
    unknown = set(body) - {"path", "mode", "count", "seconds"}
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    path, mode = body.get("path"), body.get("mode")
    count, seconds = body.get("count", 1), body.get("seconds", 30)
    if not isinstance(path, str) or not (path == "*" or path.startswith("/")):
        raise ValueError('path must be a request path such as "/api/v5/asset/balances" or "*"')
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError("seconds must be a non-negative number")
    return Fault(path=path, mode=mode, count=count, seconds=float(seconds))


class FaultQueue:
    """Faults in the order they were added; each request consumes one unit of the first match."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Queue a fault."""
        self._faults.append(fault)

    def take(self, path: str, *, private: bool) -> Fault | None:
        """Consume one unit of the first fault matching ``path``, if any."""
        for fault in self._faults:
            if fault.path == path or (fault.path == "*" and private):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        """Drop every queued fault."""
        self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        """The queued faults as JSON-ready dicts."""
        return [asdict(f) for f in self._faults]
