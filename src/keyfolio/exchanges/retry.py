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

__all__ = ["RATE_LIMIT_FACTOR", "backoff_delay", "call_with_retries"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: A rate-limited request waits this many times the base delay (0.25 s -> 1 s).
RATE_LIMIT_FACTOR = 4.0


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
