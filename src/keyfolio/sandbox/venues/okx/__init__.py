"""The OKX V5 venue: REST (``/api/v5``), the private ``account`` and public ``tickers`` channels.

OKX keeps its own state format (``trading``, ``funding``, ``savings``, ``onchain_earn``; fills with
``instId``/``fillSz``/``fillPx``), documented in docs/sandbox/okx.md, and its own books, which carry
what OKX answers beyond the common ones: Simple Earn rates and earnings, On-chain Earn orders,
bill ids. Faults, limits, the request log, the WebSocket registry and the control API are the
core's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import web

from keyfolio.sandbox.core.http import Handler
from keyfolio.sandbox.core.runtime import Runtime
from keyfolio.sandbox.core.venue import Venue
from keyfolio.sandbox.venues.okx import archive, rest, ws
from keyfolio.sandbox.venues.okx.book import Book
from keyfolio.sandbox.venues.okx.history import fill_row
from keyfolio.sandbox.venues.okx.state import REGIONS, SandboxState, parse_state

__all__ = ["VENUE", "OkxVenue"]


class OkxVenue(Venue):
    """OKX V5 as a read-only tracker sees it, in three regions."""

    id: ClassVar[str] = "okx"
    name: ClassVar[str] = "OKX"
    regions: ClassVar[tuple[str, ...]] = REGIONS
    key_env: ClassVar[tuple[tuple[str, str], ...]] = (
        ("KEY", "apiKey"),
        ("SECRET", "secret"),
        ("PASSPHRASE", "passphrase"),
    )

    def parse_state(self, data: dict[str, Any], *, origin: str) -> SandboxState:
        return parse_state({k: v for k, v in data.items() if k != "exchange"}, origin=origin)

    def build_book(self, state: Any) -> Book:
        assert isinstance(state, SandboxState)
        return Book(state)

    def demo_state(self) -> SandboxState:
        from keyfolio.sandbox.venues.okx.demo import demo_state

        return demo_state()

    def demo_key(self) -> Mapping[str, str]:
        from keyfolio.sandbox.venues.okx.demo import DEMO_READ_ONLY_KEY

        return DEMO_READ_ONLY_KEY

    def register(self, app: web.Application) -> None:
        rest.register(app.router)
        ws.register(app.router)

    def request_key(self, request: web.Request) -> str | None:
        return rest.header_key(request)

    def is_private(self, path: str) -> bool:
        return path in rest.PRIVATE_ROUTES or path == rest.CONFIG_PATH or path in archive.KINDS

    def control_routes(self) -> list[tuple[str, str, Handler]]:
        return archive.control_routes()

    def answer(self, kind: str, request: web.Request, *, retry_after: int = 0) -> web.Response:
        return rest.answer(kind)

    def fill_json(self, fill: Any) -> dict[str, Any]:
        return fill_row(fill)

    async def push_balances(self, rt: Runtime, account: str, changed: list[str]) -> int:
        return await ws.push_account(rt, account, changed)

    async def push_tickers(self, rt: Runtime, symbols: list[str]) -> int:
        return await ws.push_tickers(rt, symbols)


VENUE = OkxVenue()
