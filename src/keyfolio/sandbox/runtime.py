"""What one running sandbox holds: books, options, limiter, faults, request log, WS hub."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from keyfolio.sandbox.book import Book
from keyfolio.sandbox.faults import FaultQueue
from keyfolio.sandbox.limits import RateLimiter
from keyfolio.sandbox.market import ticker_row
from keyfolio.sandbox.protocol import dumps
from keyfolio.sandbox.state import KeyState
from keyfolio.sandbox.views import balance_snapshot

__all__ = ["RUNTIME", "Connection", "Hub", "Runtime"]

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Connection:
    """One WebSocket client: its login and its subscriptions (``arg`` objects)."""

    ws: web.WebSocketResponse
    private: bool
    conn_id: str = field(default_factory=lambda: secrets.token_hex(4))
    key: KeyState | None = None
    subs: list[dict[str, str]] = field(default_factory=list)
    opened: float = field(default_factory=time.monotonic)

    async def send(self, payload: dict[str, Any] | str) -> None:
        """Send a JSON object (or a raw text frame); a closed socket is ignored."""
        if self.ws.closed:
            return
        text = payload if isinstance(payload, str) else dumps(payload)
        try:
            await self.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            logger.debug("sandbox ws %s: send on a closing socket dropped", self.conn_id)


class Hub:
    """Every open WebSocket connection, and the pushes the control API triggers."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()

    def account_push(
        self, book: Book, conn: Connection, arg: dict[str, str], event: str, changed: list[str]
    ) -> dict[str, Any] | None:
        """The ``account`` channel message for one subscription, or None if nothing to say."""
        if conn.key is None:
            return None
        account = book.accounts[conn.key.account]
        wanted = {arg["ccy"]} if arg.get("ccy") else None
        if event == "event_update":
            wanted = set(changed) if wanted is None else wanted & set(changed)
            if not wanted:
                return None
        data = balance_snapshot(book, account, wanted, ws=True, include_zero=frozenset(changed))
        return {
            "arg": {**arg, "uid": account.uid},
            "eventType": event,
            "curPage": 1,
            "lastPage": True,
            "data": [data],
        }

    async def push_account(self, book: Book, account: str, changed: list[str]) -> int:
        """Push an ``event_update`` to every logged-in subscriber of ``account``."""
        sent = 0
        for conn in list(self.connections):
            if conn.key is None or conn.key.account != account:
                continue
            for arg in conn.subs:
                if arg.get("channel") != "account":
                    continue
                message = self.account_push(book, conn, arg, "event_update", changed)
                if message is not None:
                    await conn.send(message)
                    sent += 1
        return sent

    async def push_tickers(self, book: Book, inst_ids: list[str]) -> int:
        """Push the new tickers to every ``tickers`` subscriber of those instruments."""
        sent = 0
        for conn in list(self.connections):
            for arg in conn.subs:
                if arg.get("channel") == "tickers" and arg.get("instId") in inst_ids:
                    ticker = book.tickers[arg["instId"]]
                    await conn.send({"arg": arg, "data": [ticker_row(ticker)]})
                    sent += 1
        return sent

    async def close_all(self) -> None:
        """Close every connection (server shutdown)."""
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=b"server shutdown")

    async def drop(self, *, kind: str = "all", code: int = 4000) -> int:
        """Close the matching connections (``all``, ``private`` or ``public``) as a fault.

        Returns how many were closed. The clients see a close frame with ``code``.
        """
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
                "key": conn.key.api_key if conn.key is not None else None,
                "account": conn.key.account if conn.key is not None else None,
                "subs": [dict(arg) for arg in conn.subs],
            }
            for conn in sorted(self.connections, key=lambda c: c.opened)
        ]


@dataclass(eq=False)
class Runtime:
    """The mutable heart of one sandbox server."""

    book: Book
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
    log: list[dict[str, Any]] = field(default_factory=list)
    hub: Hub = field(default_factory=Hub)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, what: str) -> None:
        """Count a WebSocket event (``opened``, ``logins``, ``login_failures``)."""
        self.ws_stats[what] = self.ws_stats.get(what, 0) + 1

    def record(self, method: str, path: str, key: str | None, code: str, status: int) -> None:
        """Append one entry to the request log (never secrets: the API key is public)."""
        self.log.append(
            {"method": method, "path": path, "key": key, "code": code, "status": status}
        )


RUNTIME = web.AppKey("keyfolio_sandbox_runtime", Runtime)
