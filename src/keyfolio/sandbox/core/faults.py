"""Injected failures: the next N requests to a path fail in a chosen way, in the venue's envelope.

Modes (applied before authentication; the venue renders each in its own error shape):

* ``http500``     an internal error with HTTP 500 (OKX ``50026``, Binance ``-1001``, ...)
* ``unavailable`` maintenance / service unavailable, HTTP 503 (OKX ``50001``); alias ``code50001``
* ``rate_limit``  the venue's rate-limit answer (HTTP 429 with ``Retry-After`` where the venue
  sends one; OKX ``50011``); alias ``code50011``
* ``malformed``   HTTP 200 with a truncated, non-JSON body
* ``timeout``     the request is held ``seconds`` (default 30) -- longer than a client's
  timeout -- then answered; a server shutdown releases it early.
* ``not_found``   the venue's answer for a path it does not have (an endpoint an older
  deployment lacks: Kraken's ``GetApiKeyInfo`` -> ``EGeneral:Unknown method``)

``path`` is an exact request path (no query) or ``"*"`` for every private path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ALIASES", "MODES", "Fault", "FaultQueue", "parse_fault"]

MODES = ("http500", "unavailable", "rate_limit", "timeout", "malformed", "not_found")
ALIASES = {"code50001": "unavailable", "code50011": "rate_limit"}
"""OKX's historical mode names, still accepted."""


@dataclass
class Fault:
    """One queued fault with its remaining count. ``mode`` is as given (aliases kept)."""

    path: str
    mode: str
    count: int
    seconds: float = 30.0

    @property
    def kind(self) -> str:
        """The canonical mode (``code50001`` -> ``unavailable``)."""
        return ALIASES.get(self.mode, self.mode)


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
        raise ValueError('path must be a request path such as "/api/v3/account" or "*"')
    if mode not in MODES and mode not in ALIASES:
        raise ValueError(f"mode must be one of {', '.join((*MODES, *ALIASES))}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("count must be a positive integer")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValueError("seconds must be a non-negative number")
    return Fault(path=path, mode=str(mode), count=count, seconds=float(seconds))


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
