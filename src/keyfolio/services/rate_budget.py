"""Hosted mode's shared rate budgets: every worker behind one egress IP spends one budget per
venue limit, kept in Redis by the `limits` library (moving window).

An exchange limits requests per IP (and per key); workers on several processes or machines that
leave through the same public IP share that limit without knowing of each other. Each worker's
connector pool awaits :meth:`SharedRateBudget.acquire` before every HTTP request
(:class:`~keyfolio.exchanges.pool.RequestGate`). The budgets are the venues' documented per-IP
limits (:attr:`~keyfolio.exchanges.venue.VenueInfo.ip_limits`: OKX's public endpoints, Binance's
request weights on ``/api`` and per ``/sapi`` endpoint, Bybit's 600 requests / 5 s...), keyed by
(``KEYFOLIO_EGRESS_IP``, venue, host, limit), so machines with different public IPs get one
budget each. Limits per key are not shared: one worker at a time syncs an account.

A budget is a margin below its limit, so a worker waits its turn instead of making a venue
answer 429: it spends ``KEYFOLIO_RATE_BUDGET_SHARE`` (0.8) of the limit, over the venue's window
plus :data:`SLACK_SECONDS` (a request reaches the venue a little after its turn, and the
workers' clocks differ a little: without the slack, two bursts a window apart can meet in the
venue's window).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keyfolio.config import Settings
from keyfolio.exchanges.venue import IpLimit

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.storage import RedisStorage
    from limits.strategies import MovingWindowRateLimiter

__all__ = ["DEFAULT_LIMIT", "SLACK_SECONDS", "SharedRateBudget", "Spend"]

logger = logging.getLogger(__name__)

SLACK_SECONDS = 1
"""Added to every venue window (the `limits` library counts whole seconds)."""
DEFAULT_LIMIT = IpLimit("all", ("/",), 10, 1.0)
"""The budget per host of an exchange keyfolio has no documented limits for (generic ccxt)."""


@dataclass(frozen=True)
class Spend:
    """What one request spends: ``weight`` from ``limit``'s counter ``bucket``."""

    limit: IpLimit
    bucket: str
    weight: int


class SharedRateBudget:
    """One Redis-backed moving-window budget per (egress IP, venue, host, limit)."""

    def __init__(
        self,
        settings: Settings,
        *,
        venues: Mapping[str, tuple[IpLimit, ...]] | None = None,
        default: IpLimit = DEFAULT_LIMIT,
    ) -> None:
        from limits.storage import RedisStorage
        from limits.strategies import MovingWindowRateLimiter

        assert settings.broker_url, "hosted mode only"
        self._storage: RedisStorage = RedisStorage(
            settings.broker_url, key_prefix=f"{settings.broker_namespace}:limits"
        )
        self._limiter: MovingWindowRateLimiter = MovingWindowRateLimiter(self._storage)
        self._egress = settings.egress_ip
        self._share = settings.rate_budget_share
        if venues is None:
            from keyfolio.exchanges.venues import first_class

            venues = {info.id: info.ip_limits for info in first_class()}
        self._venues = dict(venues)
        self._default = default
        self._items: dict[IpLimit, RateLimitItem] = {}

    def spend(self, *, venue: str | None, path: str) -> Spend | None:
        """What a request to ``path`` of ``venue`` spends; None when no per-IP limit covers it
        (a private endpoint limited per key). Another exchange's requests spend the default."""
        if venue is None or venue not in self._venues:
            return Spend(self._default, self._default.name, 1)
        for limit in self._venues[venue]:
            if limit.covers(path):
                return Spend(limit, limit.bucket(path), limit.weight(path))
        return None

    def item(self, limit: IpLimit) -> RateLimitItem:
        """The budget of ``limit``: its share, over its window plus the slack."""
        found = self._items.get(limit)
        if found is None:
            from limits import RateLimitItemPerSecond

            amount = max(math.floor(limit.limit * self._share), limit.heaviest)
            seconds = math.ceil(limit.seconds) + SLACK_SECONDS
            found = self._items[limit] = RateLimitItemPerSecond(amount, seconds)
        return found

    def identifiers(self, *, venue: str | None, host: str, spend: Spend) -> tuple[str, ...]:
        """The Redis counter of a request: per egress IP, venue, host and limit."""
        return (self._egress, venue or "-", host, spend.bucket)

    async def acquire(self, *, venue: str | None, host: str, path: str) -> None:
        """Return once a request to ``path`` on ``host`` fits the shared budget (waits its
        turn)."""
        spend = self.spend(venue=venue, path=path)
        if spend is None:
            return
        item = self.item(spend.limit)
        ids = self.identifiers(venue=venue, host=host, spend=spend)
        while True:
            if await asyncio.to_thread(self._limiter.hit, item, *ids, cost=spend.weight):
                return
            stats = await asyncio.to_thread(self._limiter.get_window_stats, item, *ids)
            wait = max(0.005, min(stats.reset_time - time.time(), item.get_expiry()))
            logger.debug("rate budget %s of %s spent; waiting %.3f s", spend.bucket, host, wait)
            await asyncio.sleep(wait)

    async def aclose(self) -> None:
        """Nothing per pool: the budget lives as long as its process (see :meth:`close`)."""

    def close(self) -> None:
        """Close the Redis connections."""
        self._storage.storage.close()
