"""Kraken REST routes: faults, the body, authentication, permissions, the call counter, the view.

Every answer is Kraken's envelope ``{"error": [...], "result": ...}`` with HTTP 200, errors too
(``result`` is left out of an error). Public methods are ``GET /0/public/<Method>`` with a query
string; private ones ``POST /0/private/<Method>`` with a form or JSON body.

The call counter is Kraken's "Starter" tier, per API key: +1 a call, +2 for ``Ledgers`` and
``TradesHistory``, at most 15, decaying by 0.33 a second. A call over the maximum answers
``EAPI:Rate limit exceeded`` and still counts (calling on extends the penalty). Ten failed
authentications from one address within a minute lock it out for a minute
(``EGeneral:Temporary lockout``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from keyfolio.sandbox.core.book import Key, now_ms
from keyfolio.sandbox.core.http import respond
from keyfolio.sandbox.core.runtime import RUNTIME, Runtime
from keyfolio.sandbox.venues.kraken import account, history, market
from keyfolio.sandbox.venues.kraken.auth import (
    INVALID_KEY,
    INVALID_SIGNATURE,
    PERMISSION_DENIED,
    KrakenFailure,
    authenticate,
    has_permission,
)
from keyfolio.sandbox.venues.kraken.book import KrakenBook

__all__ = ["NONCE", "ROUTES", "Route", "error_response", "register"]

logger = logging.getLogger(__name__)

View = Callable[[KrakenBook, Key | None, market.Params], Any]
NONCE = web.RequestKey("keyfolio_kraken_nonce", str)
"""The nonce a private request carried (for the request log)."""

COUNTER_MAX = 15.0
COUNTER_DECAY = 0.33  # per second
_LOCKOUT_FAILURES = 10
_LOCKOUT_SECONDS = 60.0

_FUNDS = ("query-funds",)
_CLOSED = ("query-closed-trades",)
_LEDGER = ("query-ledger",)
_TRADE = ("modify-trades",)
_WITHDRAW = ("withdraw-funds",)


@dataclass(frozen=True)
class Route:
    """One method: its view, whether it is private, the permissions (any one of them) it
    needs, and what it adds to the call counter."""

    view: View
    private: bool
    needs: tuple[str, ...] = ()
    cost: int = 1


ROUTES: dict[str, Route] = {
    "/0/public/Time": Route(market.server_time, False),
    "/0/public/SystemStatus": Route(market.system_status, False),
    "/0/public/Assets": Route(market.assets, False),
    "/0/public/AssetPairs": Route(market.asset_pairs, False),
    "/0/public/Ticker": Route(market.ticker, False),
    "/0/private/Balance": Route(account.balance, True, _FUNDS),
    "/0/private/BalanceEx": Route(account.balance_ex, True, _FUNDS),
    "/0/private/GetApiKeyInfo": Route(account.api_key_info, True),
    "/0/private/AddOrder": Route(account.add_order, True, _TRADE, cost=0),
    "/0/private/WithdrawMethods": Route(account.withdraw_methods, True, _WITHDRAW),
    "/0/private/GetWebSocketsToken": Route(account.websockets_token, True),
    "/0/private/TradesHistory": Route(history.trades_history, True, _CLOSED, cost=2),
    "/0/private/Ledgers": Route(history.ledgers, True, _LEDGER, cost=2),
    "/0/private/DepositStatus": Route(history.deposit_status, True, _FUNDS),
    "/0/private/WithdrawStatus": Route(history.withdraw_status, True, _WITHDRAW + _LEDGER),
}


def error_response(exc: KrakenFailure) -> web.Response:
    """``{"error": [...]}`` with the failure's HTTP status (200 for every API error)."""
    return respond({"error": [exc.error]}, status=exc.status, code=exc.error)


def _params(request: web.Request, body: bytes) -> dict[str, str]:
    """The query (public) or the body (private): form-encoded, or JSON when it says so."""
    if request.method == "GET":
        return dict(parse_qsl(request.query_string, keep_blank_values=True))
    text = body.decode("utf-8", errors="replace")
    if request.content_type == "application/json":
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            raise KrakenFailure("EGeneral:Invalid arguments") from None
        if not isinstance(data, dict):
            raise KrakenFailure("EGeneral:Invalid arguments")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    return dict(parse_qsl(text, keep_blank_values=True))


def _failures(rt: Runtime) -> dict[str, list[float]]:
    found: dict[str, list[float]] = rt.extras.setdefault("kraken_auth_failures", {})
    return found


def _locked_out(rt: Runtime, peer: str) -> bool:
    if not rt.rate_limit:
        return False
    now = time.monotonic()
    recent = [t for t in _failures(rt).get(peer, []) if now - t < _LOCKOUT_SECONDS]
    _failures(rt)[peer] = recent
    return len(recent) >= _LOCKOUT_FAILURES


def _count(rt: Runtime, api_key: str, cost: int) -> None:
    """Add ``cost`` to the key's decaying call counter; over the maximum -> rate limited."""
    if not rt.rate_limit or cost == 0:
        return
    counters: dict[str, tuple[float, float]] = rt.extras.setdefault("kraken_counters", {})
    now = time.monotonic()
    level, at = counters.get(api_key, (0.0, now))
    level = max(0.0, level - (now - at) * COUNTER_DECAY) + cost
    counters[api_key] = (level, now)
    if level > COUNTER_MAX:
        rt.limiter.refuse("call counter")
        raise KrakenFailure("EAPI:Rate limit exceeded")


def _private(
    rt: Runtime, request: web.Request, path: str, route: Route, body: bytes,
    params: dict[str, str],
) -> Key:  # fmt: skip
    peer = request.remote or ""
    if _locked_out(rt, peer):
        rt.limiter.refuse("lockout")
        raise KrakenFailure("EGeneral:Temporary lockout")
    if "nonce" in params:
        request[NONCE] = params["nonce"]
    book: KrakenBook = rt.book
    try:
        key = authenticate(
            headers=request.headers, path=path, body=body, params=params, book=book,
            peer=request.remote, now_ms=now_ms(),
        )  # fmt: skip
    except KrakenFailure as exc:
        if exc.error in (INVALID_KEY, INVALID_SIGNATURE):
            _failures(rt).setdefault(peer, []).append(time.monotonic())
        raise
    if not has_permission(key, route.needs):
        raise KrakenFailure(PERMISSION_DENIED)
    _count(rt, key.api_key, route.cost)
    return key


def _handler(path: str, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        rt = request.app[RUNTIME]
        body = await request.read()
        try:
            params = _params(request, body)
            key = _private(rt, request, path, route, body, params) if route.private else None
            result = route.view(rt.book, key, params)
        except KrakenFailure as exc:
            return error_response(exc)
        return respond({"error": [], "result": result})

    return handle


def register(router: web.UrlDispatcher) -> None:
    """Add every method: GET for public ones, POST for private ones (as on Kraken)."""
    for path, route in ROUTES.items():
        if route.private:
            router.add_post(path, _handler(path, route))
        else:
            router.add_get(path, _handler(path, route), allow_head=False)
