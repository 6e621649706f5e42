"""Coinbase REST routes: faults, authentication, rate limits, scopes, then the view.

========================================================  =======  ===========================
path                                                      auth     scope
========================================================  =======  ===========================
``GET /api/v3/brokerage/time``, ``.../market/products``   public   -
(``/{product_id}``, ``/{product_id}/ticker``)
``GET /v2/time``, ``/v2/currencies``(``/crypto``),        public   -
``/v2/exchange-rates``
``GET /api/v3/brokerage/key_permissions``                 JWT      any valid key
``GET /api/v3/brokerage/accounts`` (``/{uuid}``),         JWT      view
``products``, ``best_bid_ask``, ``transaction_summary``,
``portfolios``, ``orders/historical/fills``
``GET /v2/accounts`` (``/{id}``, ``/{id}/transactions``,  JWT      view
``/{id}/deposits``, ``/{id}/withdrawals``)
``POST /api/v3/brokerage/orders``                         JWT      trade
``POST /v2/accounts/{id}/transactions`` (send)            JWT      transfer
========================================================  =======  ===========================

Rate limits: Advanced Trade private 30 requests/s per user (``x-ratelimit-limit``,
``-remaining``, ``-reset``: the Unix second the window frees), public 10/s per IP; Coinbase App
10,000 requests/hour per key. A key without the scope gets 403 (``PERMISSION_DENIED``, or v2
``invalid_scope``). The sandbox places no orders and sends no money: a key with the scope gets
Coinbase's own refusal shapes for those two.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from keyfolio.sandbox.core.book import Book, Key
from keyfolio.sandbox.core.clock import now
from keyfolio.sandbox.core.http import respond
from keyfolio.sandbox.core.runtime import RUNTIME, Runtime
from keyfolio.sandbox.venues.coinbase import account, history, market
from keyfolio.sandbox.venues.coinbase.auth import authenticate
from keyfolio.sandbox.venues.coinbase.common import (
    CoinbaseFailure,
    Query,
    Row,
    v2_failure,
    v3_failure,
)

__all__ = ["ROUTES", "Route", "failure_response", "is_private", "register"]

logger = logging.getLogger(__name__)

View = Callable[[Book, Query], Any]

V3 = "/api/v3/brokerage"
_PRIVATE_PER_S = 30
_PUBLIC_PER_S = 10
_V2_PER_HOUR = 10_000


@dataclass(frozen=True)
class Route:
    """One endpoint: method, view, whether it needs a JWT, and the scope it needs."""

    method: str
    view: View
    private: bool
    scope: str | None = "view"  # view, trade, transfer; None: any valid key


def _refuse_order(book: Book, query: Query) -> Row:
    return {
        "success": False, "failure_reason": "UNKNOWN_FAILURE_REASON", "order_id": "",
        "error_response": {"error": "UNKNOWN_FAILURE_REASON",
                           "message": "the keyfolio sandbox places no orders; trade through "
                           "POST /__sandbox__/trade", "error_details": "",
                           "preview_failure_reason": "UNKNOWN_PREVIEW_FAILURE_REASON"},
    }  # fmt: skip


def _refuse_send(book: Book, query: Query) -> Row:
    raise v2_failure(400, "validation_error", "The keyfolio sandbox sends no money")


def _deposits(book: Book, query: Query) -> Row:
    return history.fiat_transfers(book, query, deposits=True)


def _withdrawals(book: Book, query: Query) -> Row:
    return history.fiat_transfers(book, query, deposits=False)


ROUTES: dict[str, Route] = {
    f"{V3}/time": Route("GET", market.time_v3, False, None),
    f"{V3}/market/products": Route("GET", market.products, False, None),
    f"{V3}/market/products/{{product_id}}": Route("GET", market.product, False, None),
    f"{V3}/market/products/{{product_id}}/ticker": Route("GET", market.product_ticker, False, None),
    "/v2/time": Route("GET", market.time_v2, False, None),
    "/v2/currencies": Route("GET", market.fiat_currencies, False, None),
    "/v2/currencies/crypto": Route("GET", market.crypto_currencies, False, None),
    "/v2/exchange-rates": Route("GET", market.exchange_rates, False, None),
    f"{V3}/key_permissions": Route("GET", account.key_permissions, True, None),
    f"{V3}/accounts": Route("GET", account.v3_accounts, True),
    f"{V3}/accounts/{{account_uuid}}": Route("GET", account.v3_account, True),
    f"{V3}/portfolios": Route("GET", account.portfolios, True),
    f"{V3}/transaction_summary": Route("GET", account.transaction_summary, True),
    f"{V3}/products": Route("GET", market.products, True),
    f"{V3}/products/{{product_id}}": Route("GET", market.product, True),
    f"{V3}/products/{{product_id}}/ticker": Route("GET", market.product_ticker, True),
    f"{V3}/best_bid_ask": Route("GET", market.best_bid_ask, True),
    f"{V3}/orders/historical/fills": Route("GET", history.fills, True),
    f"{V3}/orders": Route("POST", _refuse_order, True, "trade"),
    "/v2/accounts": Route("GET", account.v2_accounts, True),
    "/v2/accounts/{account_id}": Route("GET", account.v2_account, True),
    "/v2/accounts/{account_id}/transactions": Route("GET", history.transactions, True),
    "/v2/accounts/{account_id}/transactions#send": Route("POST", _refuse_send, True, "transfer"),
    "/v2/accounts/{account_id}/deposits": Route("GET", _deposits, True),
    "/v2/accounts/{account_id}/withdrawals": Route("GET", _withdrawals, True),
}
_PUBLIC_V2 = frozenset(
    {"/v2/time", "/v2/currencies", "/v2/currencies/crypto", "/v2/exchange-rates"}
)


def is_private(path: str) -> bool:
    """Whether a request path needs a JWT (for ``"*"`` faults)."""
    if path.startswith("/v2/"):
        return path not in _PUBLIC_V2
    return path.startswith(V3 + "/") and not (
        path == f"{V3}/time" or path.startswith(f"{V3}/market/")
    )


def failure_response(exc: CoinbaseFailure) -> web.Response:
    """The error answer: JSON for the API's errors, text for ``Unauthorized``."""
    text = isinstance(exc.body, str)
    return respond(
        exc.body, status=exc.status, code=exc.code, headers=exc.headers,
        content_type="text/plain" if text else "application/json",
    )  # fmt: skip


def rate_limited(path: str, reset_in: int) -> CoinbaseFailure:
    """The 429 answer of the path's API family (its reset as a Unix second)."""
    if path.startswith("/v2/"):
        exc = v2_failure(429, "rate_limit_exceeded", "Too many requests")
    else:
        exc = v3_failure(429, "RESOURCE_EXHAUSTED", "Too many requests")
    exc.headers = {"x-ratelimit-reset": str(int(now()) + max(1, reset_in))}
    return exc


def _limit(rt: Runtime, path: str, key: Key | None, peer: str) -> dict[str, str]:
    """Count the request; 429 when over. Advanced Trade private answers carry the headers."""
    if key is None:
        who, what, limit, window = "ip:" + peer, "public", _PUBLIC_PER_S, 1.0
    elif path.startswith("/v2/"):
        who, what, limit, window = "key:" + key.api_key, "v2", _V2_PER_HOUR, 3600.0
    else:
        who, what, limit, window = "user:" + key.account, "v3", _PRIVATE_PER_S, 1.0
    if not rt.limiter.allow(who, what, limit, window, enforce=rt.rate_limit):
        raise rate_limited(path, rt.limiter.retry_after(who, what, window))
    if key is None or path.startswith("/v2/"):
        return {}
    used = rt.limiter.used(who, what, window)
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(max(0, limit - used)),
        "x-ratelimit-reset": str(int(now()) + rt.limiter.retry_after(who, what, window)),
    }


def _scope(route: Route, key: Key, path: str) -> None:
    granted = {"view": key.can_read, "trade": key.can_trade, "transfer": key.can_withdraw}
    if route.scope is None or granted[route.scope]:
        return
    if path.startswith("/v2/"):
        raise v2_failure(403, "invalid_scope", "Invalid scope")
    raise v3_failure(403, "PERMISSION_DENIED", "Missing required scopes")


def _query(request: web.Request, key: Key | None) -> Query:
    params: dict[str, list[str]] = {}
    for name, value in request.query.items():
        params.setdefault(name.removesuffix("[]"), []).append(value)
    return Query(params=params, match=dict(request.match_info), key=key, host=request.host)


def _handler(path: str, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        rt = request.app[RUNTIME]
        await request.read()  # a GET from the SDK carries a JSON body "{}": read, unused
        try:
            key: Key | None = None
            if route.private:
                key = authenticate(
                    headers=request.headers, method=request.method, host=request.host,
                    path=request.raw_path.split("?", 1)[0], keys=rt.common_book.keys,
                    peer=request.remote,
                )  # fmt: skip
            headers = _limit(rt, path, key, request.remote or "")
            if key is not None:
                _scope(route, key, path)
            payload = route.view(rt.common_book, _query(request, key))
        except CoinbaseFailure as exc:
            return failure_response(exc)
        return respond(payload, headers=headers, code="ok")

    return handle


def register(router: web.UrlDispatcher) -> None:
    """Add every REST route with its method."""
    for name, route in ROUTES.items():
        path = name.split("#", 1)[0]
        handler = _handler(path, route)
        if route.method == "GET":
            router.add_get(path, handler, allow_head=False)
        else:
            router.add_post(path, handler)
