"""Hosted mode's shared rate budgets: every worker behind one egress IP spends one budget per
venue host, kept in Redis by the `limits` library (moving window).

An exchange limits requests per IP (and per key); workers on several processes or machines that
leave through the same public IP share that limit without knowing of each other. Each worker's
connector pool awaits :meth:`SharedRateBudget.acquire` before every HTTP request
(:class:`~keyfolio.exchanges.pool.RequestGate`); the budget is keyed by
(``KEYFOLIO_EGRESS_IP``, host), so machines with different public IPs get one budget each.

The budgets stay below the venues' published limits (docs/deploy.md), so a worker waits its
turn instead of making a venue answer 429.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from keyfolio.config import Settings

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.storage import RedisStorage
    from limits.strategies import MovingWindowRateLimiter

__all__ = ["BUDGETS", "DEFAULT_BUDGET", "SharedRateBudget"]

logger = logging.getLogger(__name__)

BUDGETS = {
    "okx.com": "10/second",  # OKX: 10 requests / 2 s per endpoint and key; 20 / 2 s per IP
    "binance.com": "15/second",  # Binance: 6,000 weight / minute per IP
    "bybit.com": "10/second",  # Bybit: 600 requests / 5 s per IP
    "kraken.com": "1/second",  # Kraken: a decaying counter per key (its KeyGate paces too)
    "coinbase.com": "10/second",  # Coinbase Advanced: 30 requests / s per key
}
"""Requests per host suffix for every worker behind one egress IP (the venues' limits, with a
margin)."""
DEFAULT_BUDGET = "10/second"


class SharedRateBudget:
    """One Redis-backed moving-window budget per (egress IP, venue host)."""

    def __init__(
        self, settings: Settings, *, budgets: dict[str, str] | None = None, default: str = ""
    ) -> None:
        from limits import parse
        from limits.storage import RedisStorage
        from limits.strategies import MovingWindowRateLimiter

        assert settings.broker_url, "hosted mode only"
        self._storage: RedisStorage = RedisStorage(
            settings.broker_url, key_prefix=f"{settings.broker_namespace}:limits"
        )
        self._limiter: MovingWindowRateLimiter = MovingWindowRateLimiter(self._storage)
        self._egress = settings.egress_ip
        self._items = {suffix: parse(rate) for suffix, rate in (budgets or BUDGETS).items()}
        self._default: RateLimitItem = parse(default or DEFAULT_BUDGET)

    def item_for(self, host: str) -> RateLimitItem:
        """The budget of ``host``: its venue's, else the default."""
        for suffix, item in self._items.items():
            if host == suffix or host.endswith("." + suffix):
                return item
        return self._default

    async def acquire(self, host: str) -> None:
        """Return once a request to ``host`` fits the shared budget (waits its turn)."""
        item = self.item_for(host)
        while True:
            if await asyncio.to_thread(self._limiter.hit, item, self._egress, host):
                return
            stats = await asyncio.to_thread(
                self._limiter.get_window_stats, item, self._egress, host
            )
            wait = max(0.005, min(stats.reset_time - time.time(), item.get_expiry()))
            logger.debug("rate budget of %s spent; waiting %.3f s", host, wait)
            await asyncio.sleep(wait)

    async def aclose(self) -> None:
        """Nothing per pool: the budget lives as long as its process (see :meth:`close`)."""

    def close(self) -> None:
        """Close the Redis connections."""
        self._storage.storage.close()
