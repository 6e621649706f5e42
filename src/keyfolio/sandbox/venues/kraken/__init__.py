"""The Kraken venue: spot REST (``/0/public``, ``/0/private``) and the WebSocket v2 ``balances``.

One source (state key ``balances``) served by ``POST /0/private/BalanceEx`` (and ``Balance``):
Kraken's own codes, each suffixed sub-balance a row of its own (``SOL`` beside ``SOL.F``,
``ETH2`` beside ``ETH2.S``). Permissions come from ``POST /0/private/GetApiKeyInfo``; a key
without an endpoint's permission gets ``EGeneral:Permission denied``. Every API error is
``{"error": ["E<Category>:<Message>"]}`` with HTTP 200. See docs/sandbox/kraken.md.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import web

from keyfolio.sandbox.core.runtime import Runtime
from keyfolio.sandbox.core.state import CommonKey, CommonState, parse_common
from keyfolio.sandbox.core.venue import Venue
from keyfolio.sandbox.venues.kraken import rest, ws
from keyfolio.sandbox.venues.kraken.auth import KrakenFailure
from keyfolio.sandbox.venues.kraken.book import KrakenBook

__all__ = ["VENUE", "KrakenVenue"]

_UNKNOWN_METHOD = "EGeneral:Unknown method"
_ANSWERS = {
    "not_found": KrakenFailure(_UNKNOWN_METHOD, 404),
    "bad_method": KrakenFailure(_UNKNOWN_METHOD, 405),
    "rate_limit": KrakenFailure("EAPI:Rate limit exceeded"),
    "http500": KrakenFailure("EGeneral:Internal error", 500),
    "unavailable": KrakenFailure("EService:Unavailable"),
    "timeout": KrakenFailure("EService:Busy"),
}


class KrakenVenue(Venue):
    """Kraken spot, as a read-only tracker sees it."""

    id: ClassVar[str] = "kraken"
    name: ClassVar[str] = "Kraken"
    sources: ClassVar[tuple[str, ...]] = ("balances",)
    optional_maps: ClassVar[tuple[str, ...]] = ()
    has_passphrase: ClassVar[bool] = False

    def check_key(self, key: CommonKey) -> str | None:
        try:
            base64.b64decode(key.secret, validate=True)
        except (binascii.Error, ValueError):
            return "secret: a Kraken private key is base64 text (88 characters for 64 bytes)"
        return None

    def parse_state(self, data: dict[str, Any], *, origin: str) -> CommonState:
        return parse_common(data, self, origin=origin)

    def build_book(self, state: Any) -> KrakenBook:
        assert isinstance(state, CommonState)
        return KrakenBook(state)

    def demo_state(self) -> CommonState:
        from keyfolio.sandbox.venues.kraken.demo import demo_state_data

        return self.parse_state(demo_state_data(), origin="<kraken demo state>")

    def demo_key(self) -> Mapping[str, str]:
        from keyfolio.sandbox.venues.kraken.demo import DEMO_READ_ONLY_KEY

        return DEMO_READ_ONLY_KEY

    def register(self, app: web.Application) -> None:
        rest.register(app.router)
        ws.register(app.router)

    def request_key(self, request: web.Request) -> str | None:
        return request.headers.get("API-Key") or None

    def is_private(self, path: str) -> bool:
        return path.startswith("/0/private/")

    def answer(self, kind: str, request: web.Request, *, retry_after: int = 0) -> web.Response:
        return rest.error_response(_ANSWERS[kind])

    def log_fields(self, request: web.Request) -> dict[str, Any]:
        nonce = request.get(rest.NONCE)
        return {"nonce": nonce} if nonce is not None else {}

    async def push_balances(self, rt: Runtime, account: str, changed: list[str]) -> int:
        return await ws.push_balances(rt, account, changed)


VENUE = KrakenVenue()
