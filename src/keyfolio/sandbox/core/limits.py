"""Sliding-window rate limits, counted per (who, what) on a monotonic clock.

Venues declare their own tables (per key and endpoint, per IP, or request weight per minute) and
answer an exceeded limit in their own words. Rejected requests do not count.

``who`` names the caller a limit counts: ``ip:<address>`` for a per-IP limit (every venue uses
that prefix), else the venue's own (``key:…``, ``uid:…``, ``user:…``). The server option
``ip_scale`` multiplies every per-IP limit (a test reaches a venue's per-IP limit with a few
requests instead of thousands); the limiter also counts the requests each limit refused, which
the control API reports (``GET /__sandbox__/limits``).
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

__all__ = ["IP_PREFIX", "RateLimiter"]

IP_PREFIX = "ip:"
"""The ``who`` of a per-IP limit: ``ip:`` and the caller's address."""


class RateLimiter:
    """Sliding-window counters keyed by (who, what); a hit may weigh more than 1.

    ``ip_scale`` multiplies the limits of every ``ip:`` caller (rounded down, but never below the
    weight of the request, so that every request can pass on its own).
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, ip_scale: float = 1.0
    ) -> None:
        if not ip_scale > 0:
            raise ValueError("ip_scale must be a positive number")
        self._clock = clock
        self.ip_scale = ip_scale
        self._hits: dict[tuple[str, str], deque[tuple[float, int]]] = {}
        self._windows: dict[tuple[str, str], tuple[int, float]] = {}
        self._totals: Counter[tuple[str, str]] = Counter()
        self.refused: Counter[str] = Counter()
        """Requests refused per ``what`` since the start or the last :meth:`reset`."""

    def _window(self, who: str, what: str, window: float) -> deque[tuple[float, int]]:
        now = self._clock()
        hits = self._hits.setdefault((who, what), deque())
        while hits and now - hits[0][0] >= window:
            hits.popleft()
        return hits

    def used(self, who: str, what: str, window: float) -> int:
        """The weight used in the current window."""
        return sum(weight for _, weight in self._window(who, what, window))

    def limit_of(self, who: str, limit: int, *, weight: int = 1) -> int:
        """The limit in force for ``who``: ``limit``, scaled by ``ip_scale`` for an IP."""
        if not who.startswith(IP_PREFIX) or self.ip_scale == 1.0:
            return limit
        return max(weight, math.floor(limit * self.ip_scale))

    def allow(
        self, who: str, what: str, limit: int, window: float, *, weight: int = 1,
        enforce: bool = True,
    ) -> bool:  # fmt: skip
        """Count one request of ``weight`` and return True, or False when it would exceed.

        With ``enforce=False`` the request is counted and allowed (the venue still reports
        the weight used, as Binance does in its headers).
        """
        limit = self.limit_of(who, limit, weight=weight)
        hits = self._window(who, what, window)
        self._windows[(who, what)] = (limit, window)
        if enforce and sum(w for _, w in hits) + weight > limit:
            self.refuse(what)
            return False
        hits.append((self._clock(), weight))
        self._totals[(who, what)] += weight
        return True

    def refuse(self, what: str) -> None:
        """Count a request refused by a limit (the venue's own counters call it too)."""
        self.refused[what] += 1

    def retry_after(self, who: str, what: str, window: float) -> int:
        """Whole seconds until the oldest hit leaves the window (at least 1)."""
        hits = self._window(who, what, window)
        if not hits:
            return 1
        return max(1, math.ceil(window - (self._clock() - hits[0][0])))

    def describe(self) -> dict[str, Any]:
        """The counters as JSON: per-IP scale, refusals, and each limit's use (in its window
        now, and in total since the start or the last :meth:`reset`)."""
        windows = [
            {"who": who, "what": what, "used": self.used(who, what, window), "limit": limit,
             "window": window, "total": self._totals[(who, what)]}
            for (who, what), (limit, window) in sorted(self._windows.items())
        ]  # fmt: skip
        return {
            "ip_scale": self.ip_scale,
            "refused": sum(self.refused.values()),
            "refused_by_limit": dict(sorted(self.refused.items())),
            "windows": windows,
        }

    def reset(self) -> None:
        """Forget every counter and refusal."""
        self._hits.clear()
        self._windows.clear()
        self._totals.clear()
        self.refused.clear()
