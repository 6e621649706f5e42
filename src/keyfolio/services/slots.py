"""How many accounts a sync (or a history import) works on at once, per venue.

Each first-class venue declares how many of its accounts may be refreshed at once without
running into its documented limits (:attr:`~keyfolio.exchanges.venue.VenueInfo.concurrency`):
OKX, Bybit, Coinbase and Kraken limit private requests per account or key, so their accounts
do not compete; Binance limits them per IP, so its accounts share one budget. A venue's
accounts take turns on its own slots and never wait for another venue's.
``KEYFOLIO_SYNC_CONCURRENCY`` replaces all of that with one number shared by every account.
"""

from __future__ import annotations

import asyncio

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec
from keyfolio.exchanges.venues import concurrency

__all__ = ["AccountSlots"]


class AccountSlots:
    """``async with slots(spec):`` runs one account's work when its venue has a free slot."""

    def __init__(self, settings: Settings) -> None:
        self._override = settings.sync_concurrency
        self._shared = asyncio.Semaphore(self._override) if self._override else None
        self._by_venue: dict[str, asyncio.Semaphore] = {}

    def limit(self, spec: AccountSpec) -> int:
        """The number of slots the account's venue has (the override, if set)."""
        return self._override or concurrency(spec.exchange)

    def __call__(self, spec: AccountSpec) -> asyncio.Semaphore:
        if self._shared is not None:
            return self._shared
        found = self._by_venue.get(spec.exchange)
        if found is None:
            found = self._by_venue[spec.exchange] = asyncio.Semaphore(self.limit(spec))
        return found
