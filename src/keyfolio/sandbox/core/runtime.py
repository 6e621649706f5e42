"""What one running sandbox holds: venue, books, clock, options, limits, faults, log, WebSockets."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from keyfolio.sandbox.core.book import Book
from keyfolio.sandbox.core.clock import Clock
from keyfolio.sandbox.core.faults import FaultQueue
from keyfolio.sandbox.core.limits import RateLimiter
from keyfolio.sandbox.core.venue import Venue

__all__ = ["RUNTIME", "Connection", "Hub", "Runtime"]

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Connection:
    """One WebSocket client: its kind (``private``/``public``), login and subscriptions."""

    ws: web.WebSocketResponse
    private: bool
    conn_id: str = field(default_factory=lambda: secrets.token_hex(4))
    key: Any = None  # the venue's key object once logged in (has .api_key and .account)
    subs: list[Any] = field(default_factory=list)
    opened: float = field(default_factory=time.monotonic)
    state: dict[str, Any] = field(default_factory=dict)  # venue-owned per-connection data

    async def send(self, payload: Any) -> None:
        """Send a JSON value (or a raw text frame); a closed socket is ignored."""
        if self.ws.closed:
            return
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        try:
            await self.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            logger.debug("sandbox ws %s: send on a closing socket dropped", self.conn_id)

    @property
    def account(self) -> str | None:
        return getattr(self.key, "account", None)


class Hub:
    """Every open WebSocket connection."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()

    def of_account(self, account: str) -> list[Connection]:
        """The logged-in private connections of one account."""
        return [c for c in self.connections if c.private and c.account == account]

    async def close_all(self) -> None:
        """Close every connection (server shutdown)."""
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=b"server shutdown")

    async def drop(self, *, kind: str = "all", code: int = 4000) -> int:
        """Close the matching connections (``all``, ``private`` or ``public``) as a fault."""
        closed = 0
        for conn in list(self.connections):
            if kind != "all" and conn.private != (kind == "private"):
                continue
            await conn.ws.close(code=code, message=b"dropped by the sandbox control API")
            closed += 1
        return closed

    def describe(self) -> list[dict[str, Any]]:
        """Every open connection as JSON: id, private/public, logged-in key and account, subs."""
        return [
            {
                "id": conn.conn_id,
                "private": conn.private,
                "key": getattr(conn.key, "api_key", None),
                "account": conn.account,
                "subs": [dict(arg) if isinstance(arg, dict) else arg for arg in conn.subs],
            }
            for conn in sorted(self.connections, key=lambda c: c.opened)
        ]


@dataclass(eq=False)
class Runtime:
    """The mutable heart of one sandbox server."""

    venue: Venue
    book: Any  # the venue's Book (the common Book, or a venue subclass)
    region: str = "global"
    latency_ms: int = 0
    rate_limit: bool = True
    ws_idle_timeout: float = 30.0
    ws_idle_subscribed: bool = False
    ws_stats: dict[str, int] = field(
        default_factory=lambda: {"opened": 0, "logins": 0, "login_failures": 0}
    )
    limiter: RateLimiter = field(default_factory=RateLimiter)
    faults: FaultQueue = field(default_factory=FaultQueue)
    clock: Clock = field(default_factory=Clock)
    """The server's own time (``POST /__sandbox__/clock`` offsets it), bound for each request."""
    log: list[dict[str, Any]] = field(default_factory=list)
    hub: Hub = field(default_factory=Hub)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    extras: dict[str, Any] = field(default_factory=dict)
    """Venue-owned mutable state (e.g. Binance's IP bans), reset with the limits."""
    inflight: dict[str, int] = field(default_factory=dict)
    """API key -> requests in flight (the request log's ``concurrent``)."""
    statuses: Counter[int] = field(default_factory=Counter)
    """API answers per HTTP status since the start (or the last reset of the limits)."""

    def count(self, what: str) -> None:
        """Count a WebSocket event (``opened``, ``logins``, ``login_failures``)."""
        self.ws_stats[what] = self.ws_stats.get(what, 0) + 1

    def record(
        self, method: str, path: str, key: str | None, code: str, status: int,
        extra: Mapping[str, Any] | None = None,
    ) -> None:  # fmt: skip
        """Append one entry to the request log (never secrets: the API key is public) and
        count its status."""
        self.statuses[status] += 1
        self.log.append(
            {"method": method, "path": path, "key": key, "code": code, "status": status,
             **(extra or {})}
        )  # fmt: skip

    @property
    def common_book(self) -> Book:
        """The books as the common :class:`Book` (for venues that use it)."""
        assert isinstance(self.book, Book)
        return self.book


RUNTIME = web.AppKey("keyfolio_sandbox_runtime", Runtime)
