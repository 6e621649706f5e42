"""The live engine's fills import: after a trade, the new fills (the P/L inputs) are imported.

Bounded in time (``timeout``), and never raising for the exchange: a failed or slow import is
logged. The imports share one connector pool kept for the engine's life: a new one costs about
100 ms of SSL setup per trade. :class:`~keyfolio.services.live.LiveEngine` owns one
:class:`FillsImporter`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from keyfolio.domain.accounts import Credentials
from keyfolio.services.context import App

if TYPE_CHECKING:
    from keyfolio.exchanges.pool import ConnectorPool

__all__ = ["FillsImporter"]

logger = logging.getLogger(__name__)


class FillsImporter:
    """Imports an account's new fills on demand, over a pool kept until :meth:`close`."""

    def __init__(self, app: App, *, timeout: float, retry_base_delay: float) -> None:
        self.app = app
        self._timeout = timeout
        self._retry_base_delay = retry_base_delay
        self._pool: ConnectorPool | None = None

    async def run(self, name: str, credentials: Credentials) -> None:
        """The new fills of account ``name``; bounded, never raises for the exchange."""
        from keyfolio.domain.history import HistoryKind
        from keyfolio.services.imports import import_history

        try:
            async with asyncio.timeout(self._timeout):
                pool = await self._history_pool()
                report = await import_history(
                    self.app, name, kinds={HistoryKind.TRADES}, pool=pool, credentials=credentials
                )
        except TimeoutError:
            logger.info("live %s: fills import took over %s s", name, self._timeout)
            return
        for error in report.errors:
            logger.info("live %s: fills import: %s", name, error.message)

    async def _history_pool(self) -> ConnectorPool:
        """The pool of the imports: one connector per account, alive as long as the engine."""
        from keyfolio.services.assets import connector_pool

        if self._pool is None:
            pool = connector_pool(self.app, retry_base_delay=self._retry_base_delay)
            self._pool = await pool.__aenter__()
        return self._pool

    async def close(self) -> None:
        """Close the pool, if one was opened. Idempotent."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
