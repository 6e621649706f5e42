"""The registry of first-class venues: exchange id -> the module that declares it.

A venue module is imported on first use (it imports no ccxt at module level), so asking whether
``binance`` is first-class costs a small import, never ccxt's 0.3 s.
"""

from __future__ import annotations

import importlib
from functools import cache

from keyfolio.exchanges.venue import VenueInfo

__all__ = [
    "FIRST_CLASS",
    "GENERIC_CONCURRENCY",
    "concurrency",
    "first_class",
    "venue_info",
    "venue_of_host",
]

FIRST_CLASS: dict[str, str] = {
    "okx": "keyfolio.exchanges.okx",
    "binance": "keyfolio.exchanges.binance",
    "bybit": "keyfolio.exchanges.bybit",
    "coinbase": "keyfolio.exchanges.coinbase",
    "kraken": "keyfolio.exchanges.kraken",
}
"""First-class venue id -> its connector module, in the order keyfolio lists them."""


@cache
def venue_info(exchange_id: str) -> VenueInfo | None:
    """The venue that serves ``exchange_id`` (an id or a ccxt alias such as ``myokx``), if any."""
    for venue_id, module_name in FIRST_CLASS.items():
        info = importlib.import_module(module_name).VENUE
        assert isinstance(info, VenueInfo)
        if exchange_id == venue_id or exchange_id in info.aliases:
            return info
    return None


def first_class() -> list[VenueInfo]:
    """Every first-class venue, in :data:`FIRST_CLASS` order."""
    found = [venue_info(venue_id) for venue_id in FIRST_CLASS]
    return [info for info in found if info is not None]


@cache
def venue_of_host(host: str) -> str | None:
    """The first-class venue whose REST API is on ``host`` (``api.binance.com`` -> binance)."""
    for info in first_class():
        if any(host == domain or host.endswith("." + domain) for domain in info.hosts):
            return info.id
    return None


GENERIC_CONCURRENCY = 8
"""Accounts at once on an exchange keyfolio has no documented limits for (the generic
connector): the conservative bound every venue had before the per-venue numbers."""


def concurrency(exchange_id: str) -> int:
    """How many accounts of ``exchange_id`` a sync refreshes at once by default."""
    info = venue_info(exchange_id)
    return info.concurrency if info is not None else GENERIC_CONCURRENCY
