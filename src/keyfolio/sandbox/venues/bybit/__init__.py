"""The Bybit V5 venue: REST (``/v5/...``) and the private WebSocket (``/v5/private``).

Sources (state keys) and their endpoints:

================  ===============================================================  ==========
state key         endpoint                                                         amount
================  ===============================================================  ==========
``unified``       ``GET /v5/account/wallet-balance?accountType=UNIFIED``           walletBal.
``fund``          ``GET /v5/asset/transfer/query-account-coins-balance``           walletBal.
                  ``?accountType=FUND``
``earn``          ``GET /v5/earn/position?category=FlexibleSaving``                ``amount``
``earn_onchain``  ``GET /v5/earn/position?category=OnChain`` (optional map)        ``amount``
================  ===============================================================  ==========

Control-API trades settle in ``unified``, the only wallet the ``wallet`` topic pushes. The key's
permissions come from ``GET /v5/user/query-api`` (``readOnly``, ``permissions``, ``ips``).
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
from keyfolio.sandbox.venues.bybit import rest, ws
from keyfolio.sandbox.venues.bybit.auth import BybitFailure
from keyfolio.sandbox.venues.bybit.history import execution_row

__all__ = ["VENUE", "BybitVenue"]

_EDGE_503 = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
    "<center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)


class BybitVenue(Venue):
    """Bybit's Unified Trading Account, Funding and Earn, as a read-only tracker sees them."""

    id: ClassVar[str] = "bybit"
    name: ClassVar[str] = "Bybit"
    sources: ClassVar[tuple[str, ...]] = ("unified", "fund", "earn")
    optional_maps: ClassVar[tuple[str, ...]] = ("earn_onchain",)
    has_passphrase: ClassVar[bool] = False
    trading_source: ClassVar[str] = "unified"

    def check_key(self, key: CommonKey) -> str | None:
        return None  # Bybit HMAC keys are any text (18 and 36 characters in practice)

    def parse_state(self, data: dict[str, Any], *, origin: str) -> CommonState:
        return parse_common(data, self, origin=origin)

    def build_book(self, state: Any) -> Book:
        assert isinstance(state, CommonState)
        return Book(
            state, sources=(*self.sources, *self.optional_maps), trading_source=self.trading_source
        )

    def demo_state(self) -> CommonState:
        from keyfolio.sandbox.venues.bybit.demo import demo_state_data

        return self.parse_state(demo_state_data(), origin="<bybit demo state>")

    def demo_key(self) -> Mapping[str, str]:
        from keyfolio.sandbox.venues.bybit.demo import DEMO_READ_ONLY_KEY

        return DEMO_READ_ONLY_KEY

    def register(self, app: web.Application) -> None:
        rest.register(app.router)
        ws.register(app.router)

    def request_key(self, request: web.Request) -> str | None:
        return request.headers.get("X-BAPI-API-KEY") or None

    def is_private(self, path: str) -> bool:
        route = rest.ROUTES.get(path)
        return route is not None and route.signed

    def answer(self, kind: str, request: web.Request, *, retry_after: int = 0) -> web.Response:
        if kind == "not_found":
            return respond("404 page not found", status=404, code="404",
                           content_type="text/plain")  # fmt: skip
        if kind == "bad_method":
            return respond("405 method not allowed", status=405, code="405",
                           content_type="text/plain")  # fmt: skip
        if kind == "unavailable":
            return respond(_EDGE_503, status=503, code="503", content_type="text/html")
        if kind == "rate_limit":
            reset = rest.envelope({})["time"] + max(1, retry_after) * 1000
            headers = {"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "0",
                       "X-Bapi-Limit-Reset-Timestamp": str(reset)}  # fmt: skip
            return rest.error_response(BybitFailure(10006, "Too many visits!", headers=headers))
        if kind == "timeout":
            return rest.error_response(BybitFailure(10000, "Server Timeout"))
        # http500: an internal error with HTTP 500 and Bybit's JSON body
        failure = BybitFailure(10016, "System error. Please try again later.", status=500)
        return rest.error_response(failure)

    def fill_json(self, fill: Fill) -> dict[str, Any]:
        return execution_row(fill)

    async def push_balances(self, rt: Runtime, account: str, changed: list[str]) -> int:
        return await ws.push_wallet(rt, account, changed)


VENUE = BybitVenue()
