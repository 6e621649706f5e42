"""Retrying temporary exchange failures with capped exponential backoff.

Only :class:`~keyfolio.errors.ExchangeUnavailableError` (network, 5xx, timeouts, maintenance,
unreadable bodies) and its subclass :class:`~keyfolio.errors.RateLimitedError` are retried, as
freqtrade's ``retrier`` retries only its ``TemporaryError``. Rate limiting waits longer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from keyfolio.errors import ExchangeUnavailableError, RateLimitedError

__all__ = [
    "MAX_RETRY_AFTER",
    "RATE_LIMIT_FACTOR",
    "Cooldowns",
    "backoff_delay",
    "call_with_retries",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: A rate-limited request waits this many times the base delay (0.25 s -> 1 s).
RATE_LIMIT_FACTOR = 4.0

#: The longest ``Retry-After`` keyfolio waits out inside one request; longer waits (a ban) end
#: the attempt with the error, and nothing more is sent to that host until the wait is over.
MAX_RETRY_AFTER = 30.0


class Cooldowns:
    """Hosts that asked for quiet (``Retry-After``): no request goes to them until it passes.

    Shared by every connector of a pool, so one account's 429 pauses its siblings on the same
    host (per-IP limits such as Binance's count every account of this machine).
    """

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def hold(self, host: str, seconds: float) -> None:
        """Send nothing to ``host`` for ``seconds``."""
        loop = asyncio.get_running_loop()
        self._until[host] = max(self._until.get(host, 0.0), loop.time() + seconds)

    def remaining(self, host: str) -> float:
        """Seconds until ``host`` may be asked again (0 if it may now)."""
        until = self._until.get(host)
        return 0.0 if until is None else max(0.0, until - asyncio.get_running_loop().time())

    async def wait(self, host: str) -> None:
        """Wait until ``host`` may be asked again."""
        delay = self.remaining(host)
        if delay > 0:
            logger.info("waiting %.1f s before the next request to %s (Retry-After)", delay, host)
            await asyncio.sleep(delay)


def backoff_delay(
    attempt: int, *, base_delay: float, rate_limited: bool, max_delay: float = 8.0
) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (attempt counts from 0)."""
    base = base_delay * (RATE_LIMIT_FACTOR if rate_limited else 1.0)
    return float(min(max_delay, base * (2**attempt)))


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    retries: int,
    base_delay: float,
    what: str = "request",
) -> T:
    """Await ``call()``; on a temporary failure retry up to ``retries`` more times.

    After the last attempt the error is raised again with the number of attempts in its message.
    """
    attempt = 0
    while True:
        try:
            return await call()
        except ExchangeUnavailableError as exc:
            if attempt >= retries:
                if attempt == 0:
                    raise
                attempts = attempt + 1
                raise type(exc)(
                    f"{exc.message} Gave up after {attempts} attempts.",
                    hint=exc.hint,
                    exchange_code=exc.exchange_code,
                ) from exc
            delay = backoff_delay(
                attempt, base_delay=base_delay, rate_limited=isinstance(exc, RateLimitedError)
            )
            if exc.retry_after is not None:
                if exc.retry_after > MAX_RETRY_AFTER:
                    raise  # a ban: waiting it out here would hang the sync
                delay = max(delay, exc.retry_after)
            logger.debug(
                "%s failed (%s), retry %d of %d in %.2f s",
                what,
                exc.code,
                attempt + 1,
                retries,
                delay,
            )
            await asyncio.sleep(delay)
            attempt += 1
