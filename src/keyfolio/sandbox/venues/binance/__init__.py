"""The Binance venue: spot REST (``/api/v3``), wallet and Simple Earn (``/sapi``), WebSocket API.

Sources (state keys) and their endpoints:

=================  =================================================  ======================
state key          endpoint                                           amount
=================  =================================================  ======================
``spot``           ``GET /api/v3/account``                            ``free`` + ``locked``
``funding``        ``POST /sapi/v1/asset/get-funding-asset``          ``free`` + ``locked`` ...
``earn_flexible``  ``GET /sapi/v1/simple-earn/flexible/position``     ``totalAmount``
``earn_locked``    ``GET /sapi/v1/simple-earn/locked/position``       ``amount`` per position
=================  =================================================  ======================

Every flexible Earn position is mirrored in ``spot`` as ``LD<ASSET>`` (the double-count trap);
``LDO`` is a real asset. Permissions come from ``/sapi/v1/account/apiRestrictions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import web

from keyfolio.sandbox.core.book import Book, Fill
from keyfolio.sandbox.core.http import respond
from keyfolio.sandbox.core.runtime import Runtime
from keyfolio.sandbox.core.state import CommonKey, CommonState, parse_common
from keyfolio.sandbox.core.venue import Venue
from keyfolio.sandbox.venues.binance import rest, ws
from keyfolio.sandbox.venues.binance.auth import BinanceFailure, failure
from keyfolio.sandbox.venues.binance.history import trade_row

__all__ = ["VENUE", "BinanceVenue"]

_NOT_FOUND = "<html><body><h2>404 Not found</h2></body></html>"


class BinanceVenue(Venue):
    """Binance spot, wallet and Simple Earn, as a read-only tracker sees them."""

    id: ClassVar[str] = "binance"
    name: ClassVar[str] = "Binance"
    sources: ClassVar[tuple[str, ...]] = ("spot", "funding", "earn_flexible", "earn_locked")
    optional_maps: ClassVar[tuple[str, ...]] = ()
    has_passphrase: ClassVar[bool] = False
    trading_source: ClassVar[str] = "spot"

    def check_key(self, key: CommonKey) -> str | None:
        return None  # Binance HMAC keys are any ASCII text (64 alphanumerics in practice)

    def parse_state(self, data: dict[str, Any], *, origin: str) -> CommonState:
        return parse_common(data, self, origin=origin)

    def build_book(self, state: Any) -> Book:
        assert isinstance(state, CommonState)
        return Book(state, sources=self.sources, trading_source=self.trading_source)

    def demo_state(self) -> CommonState:
        from keyfolio.sandbox.venues.binance.demo import demo_state_data

        return self.parse_state(demo_state_data(), origin="<binance demo state>")

    def demo_key(self) -> Mapping[str, str]:
        from keyfolio.sandbox.venues.binance.demo import DEMO_READ_ONLY_KEY

        return DEMO_READ_ONLY_KEY

    def register(self, app: web.Application) -> None:
        rest.register(app.router)
        ws.register(app.router)

    def request_key(self, request: web.Request) -> str | None:
        return request.headers.get("X-MBX-APIKEY") or None

    def is_private(self, path: str) -> bool:
        route = rest.ROUTES.get(path)
        return route is not None and route.signed

    def answer(self, kind: str, request: web.Request, *, retry_after: int = 0) -> web.Response:
        if kind == "not_found":
            return respond(_NOT_FOUND, status=404, code="404", content_type="text/html")
        if kind == "bad_method":
            return respond(_NOT_FOUND, status=405, code="405", content_type="text/html")
        if kind == "rate_limit":
            exc = failure(-1003, ip=request.remote or "", limit=6000)
            exc.retry_after = max(1, retry_after)
            return rest.error_response(exc)
        if kind == "timeout":
            timed_out = BinanceFailure(
                -1007,
                "Timeout waiting for response from backend server. Send status unknown; "
                "execution status unknown.",
                408,
            )
            return rest.error_response(timed_out)
        code = {"http500": -1001, "unavailable": -1008}[kind]
        return rest.error_response(failure(code))

    def fill_json(self, fill: Fill) -> dict[str, Any]:
        return trade_row(fill)

    async def push_balances(self, rt: Runtime, account: str, changed: list[str]) -> int:
        return await ws.push_positions(rt, account, changed)


VENUE = BinanceVenue()
