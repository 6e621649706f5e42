"""The markets cache: load an exchange's markets once, keep them on disk with a TTL.

ccxt's ``load_markets`` costs several requests. keyfolio loads spot markets once per
(exchange, host), keeps them in memory for the rest of the process and in
``settings.cache_dir / f"markets-{exchange}-{host}.json"`` for ``settings.markets_ttl_seconds``.
Later ccxt instances get them with ``set_markets`` and make no request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MarketData", "MarketsCache"]

logger = logging.getLogger(__name__)

_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")


@dataclass(frozen=True)
class MarketData:
    """What ccxt's ``set_markets(markets, currencies)`` needs."""

    markets: list[dict[str, Any]]
    currencies: dict[str, Any] | None = None
    fetched_at: float = field(default_factory=time.time)


class MarketsCache:
    """Markets per (exchange, host), in memory and on disk, loaded at most once at a time."""

    def __init__(self, cache_dir: Path, ttl_seconds: int) -> None:
        self.cache_dir = cache_dir
        self.ttl_seconds = ttl_seconds
        self._memory: dict[tuple[str, str], MarketData] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def path(self, exchange_id: str, host: str) -> Path:
        """The cache file of one exchange on one host."""
        return self.cache_dir / f"markets-{exchange_id}-{_UNSAFE.sub('_', host)}.json"

    def _fresh(self, data: MarketData) -> bool:
        age = time.time() - data.fetched_at
        return -60 <= age < self.ttl_seconds

    async def get(
        self,
        exchange_id: str,
        host: str,
        loader: Callable[[], Awaitable[MarketData]],
    ) -> MarketData:
        """Cached markets if fresh, else ``await loader()`` (once, even when called at once)."""
        key = (exchange_id, host)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            data = self._memory.get(key)
            if data is not None and self._fresh(data):
                return data
            path = self.path(exchange_id, host)
            data = await asyncio.to_thread(self._read, path)
            if data is None or not self._fresh(data):
                data = await loader()
                await asyncio.to_thread(self._write, path, exchange_id, host, data)
            self._memory[key] = data
            return data

    @staticmethod
    def _read(path: Path) -> MarketData | None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable markets cache %s: %s", path, exc)
            return None
        if not isinstance(raw, dict) or raw.get("version") != _VERSION:
            return None
        markets, currencies = raw.get("markets"), raw.get("currencies")
        fetched_at = raw.get("fetched_at")
        if not isinstance(markets, list) or not isinstance(fetched_at, int | float):
            return None
        if currencies is not None and not isinstance(currencies, dict):
            return None
        return MarketData(markets=markets, currencies=currencies, fetched_at=float(fetched_at))

    @staticmethod
    def _write(path: Path, exchange_id: str, host: str, data: MarketData) -> None:
        payload = {
            "version": _VERSION,
            "exchange": exchange_id,
            "host": host,
            "fetched_at": data.fetched_at,
            "markets": data.markets,
            "currencies": data.currencies,
        }
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, default=str)
            os.replace(tmp, path)
        except (OSError, TypeError, ValueError) as exc:
            logger.warning("could not write markets cache %s: %s", path, exc)
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
