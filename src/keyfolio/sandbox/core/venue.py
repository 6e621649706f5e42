"""What a venue module gives the sandbox core: its protocol, on top of the common books.

The core owns the books, faults, rate-limit counters, the request log, the WebSocket registry and
the ``/__sandbox__/`` control API. A :class:`Venue` owns everything a client can tell apart:
paths, authentication, envelopes, error codes and HTTP statuses, JSON shapes and the WebSocket.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from aiohttp import web

    from keyfolio.sandbox.core.book import Fill
    from keyfolio.sandbox.core.http import Handler
    from keyfolio.sandbox.core.runtime import Runtime

__all__ = ["FAULT_KINDS", "Venue"]

FAULT_KINDS = (
    "http500",
    "unavailable",
    "rate_limit",
    "timeout",
    "malformed",
    "not_found",
    "bad_method",
)
"""Answers a venue renders in its own envelope: injected faults, unknown paths, wrong methods."""


class Venue(ABC):
    """One exchange's protocol. Subclasses are singletons exported as ``VENUE`` by their module."""

    id: ClassVar[str]
    """The exchange id, as in the state file's ``"exchange"`` and ``--exchange``."""
    name: ClassVar[str]
    """The display name, e.g. ``Binance``."""
    regions: ClassVar[tuple[str, ...]] = ("global",)
    """The regions (sites) a server of this venue can play; keys of another region fail."""
    key_env: ClassVar[tuple[tuple[str, str], ...]] = (("KEY", "apiKey"), ("SECRET", "secret"))
    """``KEYFOLIO_API_<ENV>`` variable -> demo-key field, printed by ``keyfolio sandbox``."""

    @abstractmethod
    def parse_state(self, data: dict[str, Any], *, origin: str) -> Any:
        """Validate a decoded state document (SandboxStateError naming origin, field, problem)."""

    @abstractmethod
    def build_book(self, state: Any) -> Any:
        """The live books of a validated state (the common :class:`Book`, or the venue's own)."""

    @abstractmethod
    def demo_state(self) -> Any:
        """The validated state served without ``--state``."""

    @abstractmethod
    def demo_key(self) -> Mapping[str, str]:
        """The read-only key of the demo state (public demo values)."""

    @abstractmethod
    def register(self, app: web.Application) -> None:
        """Add the venue's REST and WebSocket routes to the application."""

    @abstractmethod
    def request_key(self, request: web.Request) -> str | None:
        """The API key a request presents (for the request log; keys are not secrets)."""

    @abstractmethod
    def is_private(self, path: str) -> bool:
        """Whether a path needs a key (a ``"*"`` fault applies to private paths only)."""

    @abstractmethod
    def answer(self, kind: str, request: web.Request, *, retry_after: int = 0) -> web.Response:
        """The venue's own answer for one of :data:`FAULT_KINDS`."""

    def log_fields(self, request: web.Request) -> Mapping[str, Any]:
        """Extra fields of the request's log entry (Kraken: the ``nonce`` it carried)."""
        return {}

    def fill_json(self, fill: Fill) -> dict[str, Any]:
        """The control API's echo of a trade, in the venue's fill shape."""
        return {
            "id": fill.id,
            "symbol": fill.symbol,
            "side": fill.side,
            "price": str(fill.price),
            "amount": str(fill.amount),
            "fee": str(fill.fee),
            "feeAsset": fill.fee_asset,
            "ts": fill.ts,
        }

    def control_routes(self) -> list[tuple[str, str, Handler]]:
        """The venue's own control routes, ``(method, path, handler)`` under
        ``/__sandbox__/<venue>/`` (the core admits loopback callers only). None by default."""
        return []

    async def push_balances(self, rt: Runtime, account: str, changed: list[str]) -> int:
        """Push a balance change to the account's private WebSocket subscribers; returns count."""
        return 0

    async def push_tickers(self, rt: Runtime, symbols: list[str]) -> int:
        """Push new tickers to public WebSocket subscribers; returns how many were sent."""
        return 0
