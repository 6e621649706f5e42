"""The connector protocol every exchange implementation satisfies.

A connector wraps one account on one exchange for the duration of a sync. It speaks domain objects
only (:class:`~keyfolio.domain.balances.SourceResult`, :class:`~keyfolio.domain.balances.KeyInfo`);
ccxt types and exceptions never leave :mod:`keyfolio.exchanges`.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from keyfolio.domain.balances import KeyInfo, SourceResult

if TYPE_CHECKING:
    from keyfolio.exchanges.history import HistoryContext, HistoryStream

__all__ = ["ExchangeConnector"]


@runtime_checkable
class ExchangeConnector(Protocol):
    """One account on one exchange. Use as ``async with`` or call :meth:`close`."""

    exchange_id: str

    async def check_key(self) -> KeyInfo:
        """What the exchange says about the key (permissions, IP whitelist, uid, label).

        Only reports: the caller decides whether a key that can trade or withdraw is refused.
        Raises an :class:`~keyfolio.errors.ExchangeAuthError` subclass for a bad key.
        """
        ...

    async def fetch_balances(self) -> list[SourceResult]:
        """Read every balance source of this exchange, concurrently and independently.

        A source that fails gets status FAILED / NOT_PERMITTED / UNSUPPORTED; errors that mean
        the whole key is bad (unknown key, wrong passphrase or secret, wrong region, IP, clock,
        demo mismatch) are raised instead.
        """
        ...

    async def clock_offset_ms(self) -> int:
        """Exchange time minus local time, in milliseconds (a public request)."""
        ...

    async def ping(self) -> None:
        """Check that the exchange's public API answers. Raises on failure."""
        ...

    async def history_streams(self, context: HistoryContext) -> list[HistoryStream]:
        """The account's history streams (ExchangeUnsupportedError where none is imported)."""
        ...

    async def close(self) -> None:
        """Release the ccxt client. Safe to call twice."""
        ...

    async def __aenter__(self) -> ExchangeConnector: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
