"""Sliding-window rate limits, counted per (who, what) on a monotonic clock.

Venues declare their own tables (per key and endpoint, per IP, or request weight per minute) and
answer an exceeded limit in their own words. Rejected requests do not count.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Sliding-window counters keyed by (who, what); a hit may weigh more than 1."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[tuple[str, str], deque[tuple[float, int]]] = {}

    def _window(self, who: str, what: str, window: float) -> deque[tuple[float, int]]:
        now = self._clock()
        hits = self._hits.setdefault((who, what), deque())
        while hits and now - hits[0][0] >= window:
            hits.popleft()
        return hits

    def used(self, who: str, what: str, window: float) -> int:
        """The weight used in the current window."""
        return sum(weight for _, weight in self._window(who, what, window))

    def allow(
        self, who: str, what: str, limit: int, window: float, *, weight: int = 1,
        enforce: bool = True,
    ) -> bool:  # fmt: skip
        """Count one request of ``weight`` and return True, or False when it would exceed.

        With ``enforce=False`` the request is counted and allowed (the venue still reports
        the weight used, as Binance does in its headers).
        """
        hits = self._window(who, what, window)
        if enforce and sum(w for _, w in hits) + weight > limit:
            return False
        hits.append((self._clock(), weight))
        return True

    def retry_after(self, who: str, what: str, window: float) -> int:
        """Whole seconds until the oldest hit leaves the window (at least 1)."""
        hits = self._window(who, what, window)
        if not hits:
            return 1
        return max(1, math.ceil(window - (self._clock() - hits[0][0])))

    def reset(self) -> None:
        """Forget every counter."""
        self._hits.clear()
