"""The Coinbase venue: Advanced Trade (``/api/v3/brokerage``) and Coinbase App (``/v2``) with CDP
keys, one signed JWT per request.

Sources (state keys) and their endpoints:

=============  =============================================  ===================================
state key      endpoint                                       amount
=============  =============================================  ===================================
``wallets``    ``GET /api/v3/brokerage/accounts`` (cursor)    ``available_balance`` + ``hold``
               and ``GET /v2/accounts``                       ``balance.amount``
``holds``      (optional) the part of a wallet on hold        inside the wallet, never on top
``staked``     (optional) ``GET /v2/accounts`` only           a ``Staked <CODE>`` wallet
=============  =============================================  ===================================

Keys: ``apiKey`` is the CDP key name, ``secret`` its private key (EC P-256 PEM for ES256, or
Ed25519 as PEM or the portal's base64 for EdDSA). ``perm`` maps to ``key_permissions``:
``read_only`` -> ``can_view``, ``trade`` -> ``can_trade``, ``withdraw`` -> ``can_transfer``.
There is no private WebSocket: the ``user`` channel carries orders, not balances, and ccxt.pro
has no ``watch_balance`` for Coinbase, so clients poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from aiohttp import web

from keyfolio.sandbox.core.book import Book
from keyfolio.sandbox.core.http import respond
from keyfolio.sandbox.core.state import CommonKey, CommonState, parse_common, state_error
from keyfolio.sandbox.core.venue import Venue
from keyfolio.sandbox.venues.coinbase import rest
from keyfolio.sandbox.venues.coinbase.auth import jwt_kid, key_kind
from keyfolio.sandbox.venues.coinbase.common import v2_failure, v3_failure

__all__ = ["VENUE", "CoinbaseVenue"]


class CoinbaseVenue(Venue):
    """Coinbase Advanced Trade and the Coinbase App API, as a read-only tracker sees them."""

    id: ClassVar[str] = "coinbase"
    name: ClassVar[str] = "Coinbase"
    sources: ClassVar[tuple[str, ...]] = ("wallets",)
    optional_maps: ClassVar[tuple[str, ...]] = ("holds", "staked")
    has_passphrase: ClassVar[bool] = False
    trading_source: ClassVar[str] = "wallets"

    def check_key(self, key: CommonKey) -> str | None:
        if any(c.isspace() for c in key.api_key):
            return "apiKey: a CDP key name has no spaces (organizations/{org}/apiKeys/{id})"
        try:
            key_kind(key.secret)
        except ValueError as exc:
            return (
                f"secret: {exc}; expected an EC P-256 PEM (-----BEGIN EC PRIVATE KEY-----) or "
                "an Ed25519 key (PEM, or the portal's base64)"
            )
        return None

    def parse_state(self, data: dict[str, Any], *, origin: str) -> CommonState:
        state = parse_common(data, self, origin=origin)
        problems: list[tuple[str, str]] = []
        for name, account in state.accounts.items():
            for index, fill in enumerate(account.fills):
                quote = fill.symbol.split("-")[1]
                if fill.fee_asset is not None and fill.fee_asset != quote:
                    where = f"accounts.{name}.fills[{index}].feeAsset"
                    problems.append((where, f"Coinbase charges fees in the quote ({quote})"))
            maps = account.maps()
            wallets = maps.get("wallets", {})
            for asset, held in maps.get("holds", {}).items():
                if Decimal(held) > Decimal(wallets.get(asset, "0")):
                    where = f"accounts.{name}.holds.{asset}"
                    problems.append((where, "a hold is part of the wallet: at most wallets."
                                     f"{asset} ({wallets.get(asset, '0')})"))  # fmt: skip
        if problems:
            raise state_error(origin, problems)
        return state

    def build_book(self, state: Any) -> Book:
        assert isinstance(state, CommonState)
        return Book(
            state, sources=self.sources, trading_source=self.trading_source, fee_in_quote=True
        )

    def demo_state(self) -> CommonState:
        from keyfolio.sandbox.venues.coinbase.demo import demo_state_data

        return self.parse_state(demo_state_data(), origin="<coinbase demo state>")

    def demo_key(self) -> Mapping[str, str]:
        from keyfolio.sandbox.venues.coinbase.demo import DEMO_READ_ONLY_KEY

        return DEMO_READ_ONLY_KEY

    def register(self, app: web.Application) -> None:
        rest.register(app.router)

    def request_key(self, request: web.Request) -> str | None:
        return jwt_kid(request.headers)

    def is_private(self, path: str) -> bool:
        return rest.is_private(path)

    def answer(self, kind: str, request: web.Request, *, retry_after: int = 0) -> web.Response:
        path = request.path
        if kind == "rate_limit":
            return rest.failure_response(rest.rate_limited(path, retry_after))
        family = 2 if path.startswith("/v2/") else 3 if path.startswith(rest.V3 + "/") else 0
        if kind in ("timeout", "bad_method") or family == 0:
            status, text = _TEXT[kind]
            return respond(text, status=status, code=str(status), content_type="text/plain")
        status, code, message = _JSON[kind][family]
        failure = v2_failure if family == 2 else v3_failure
        return rest.failure_response(failure(status, code, message))


_TEXT = {
    "not_found": (404, "404 page not found"),
    "bad_method": (405, "Method Not Allowed"),
    "timeout": (504, "upstream request timeout"),
    "http500": (500, "Internal Server Error"),
    "unavailable": (503, "Service Unavailable"),
}
"""Answers outside both APIs' envelopes (a gateway's text)."""

_JSON = {
    "not_found": {3: (404, "NOT_FOUND", "Not Found"), 2: (404, "not_found", "Not found")},
    "http500": {3: (500, "INTERNAL", "internal error"),
                2: (500, "internal_server_error", "Internal server error")},
    "unavailable": {3: (503, "UNAVAILABLE", "service unavailable"),
                    2: (503, "service_unavailable", "Service unavailable")},
}  # fmt: skip
"""Faults and unknown paths in each API's own error shape (v3 ``error``, v2 ``errors``)."""


VENUE = CoinbaseVenue()
