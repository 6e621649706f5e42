"""The sandbox's own clock: the real time plus an offset, as a real exchange keeps its own time.

A venue checks request timestamps (OKX's 30 s window, Binance's and Bybit's ``recvWindow``,
Coinbase's JWT ``nbf``/``exp``), answers its public server-time endpoint, stamps its answers and
cuts its history windows with its own clock, which need not agree with the client's. The control
API sets one sandbox's offset (``POST /__sandbox__/clock {"offset_seconds": 120}``), so a test can
put the machine keyfolio runs on behind or ahead of the exchange without touching either clock.

Every time a venue reads goes through :func:`now_ms` (or :func:`now`): the clock of the sandbox
serving the current request, which the HTTP middleware binds with :func:`serving` for each
request (a WebSocket session included). Outside a request it is the real time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["MAX_OFFSET_SECONDS", "Clock", "now", "now_ms", "serving"]

MAX_OFFSET_SECONDS = 366 * 86_400
"""The largest offset the control API accepts, either way (a year: a clock that lost its
battery is further off, but no test needs that)."""


@dataclass
class Clock:
    """One sandbox's clock: the real time plus ``offset_ms`` (0 unless the control API set it)."""

    offset_ms: int = 0

    def now_ms(self) -> int:
        """This clock's time in Unix milliseconds."""
        return time.time_ns() // 1_000_000 + self.offset_ms

    def set_offset(self, seconds: float) -> None:
        """Run ``seconds`` ahead of the real time (behind when negative), to the millisecond."""
        if not math.isfinite(seconds) or abs(seconds) > MAX_OFFSET_SECONDS:
            raise ValueError(
                f"offset_seconds must be within ±{MAX_OFFSET_SECONDS} (a year), not {seconds}"
            )
        self.offset_ms = round(seconds * 1000)


_SERVING: ContextVar[Clock | None] = ContextVar("keyfolio_sandbox_clock", default=None)


def now_ms() -> int:
    """The serving sandbox's time in Unix milliseconds (the real time outside a request)."""
    clock = _SERVING.get()
    return clock.now_ms() if clock is not None else time.time_ns() // 1_000_000


def now() -> float:
    """The serving sandbox's time in Unix seconds."""
    return now_ms() / 1000


@contextmanager
def serving(clock: Clock) -> Iterator[None]:
    """Read the time from ``clock`` inside the block (one request of one sandbox)."""
    token = _SERVING.set(clock)
    try:
        yield
    finally:
        _SERVING.reset(token)
