"""The OKX V5 REST routes: faults, then authentication, permission, rate limit, view.

The core's middleware adds ``--latency-ms`` and the request log; :func:`answer` gives OKX's JSON
for injected faults, unknown paths (404) and wrong methods (405).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from keyfolio.sandbox.core.clock import now
from keyfolio.sandbox.core.http import Handler, respond
from keyfolio.sandbox.core.runtime import RUNTIME, Runtime
from keyfolio.sandbox.venues.okx import archive, history, market, views
from keyfolio.sandbox.venues.okx.auth import authenticate_rest, require_read
from keyfolio.sandbox.venues.okx.book import Account, Book
from keyfolio.sandbox.venues.okx.limits import PRIVATE_LIMITS, PUBLIC_LIMITS
from keyfolio.sandbox.venues.okx.protocol import OkxFailure, error_body, failure, ok_body
from keyfolio.sandbox.venues.okx.state import KeyState

__all__ = [
    "PRIVATE_ROUTES",
    "PUBLIC_ROUTES",
    "answer",
    "authenticate",
    "failure_response",
    "header_key",
    "register",
]

logger = logging.getLogger(__name__)

Query = Mapping[str, str]
PublicView = Callable[[Book, Query], list[dict[str, Any]]]
PrivateView = Callable[[Book, Account, Query], list[dict[str, Any]]]


PUBLIC_ROUTES: dict[str, PublicView] = {
    "/api/v5/public/time": market.public_time,
    "/api/v5/public/instruments": market.instruments,
    "/api/v5/market/tickers": market.market_tickers,
    "/api/v5/market/ticker": market.market_ticker,
    "/api/v5/market/index-tickers": market.index_tickers,
}

PRIVATE_ROUTES: dict[str, PrivateView] = {
    "/api/v5/account/balance": views.account_balance,
    "/api/v5/account/positions": views.positions,
    "/api/v5/account/bills": history.recent_bills,
    "/api/v5/account/bills-archive": history.bills_archive,
    "/api/v5/asset/balances": views.asset_balances,
    "/api/v5/asset/bills": history.funding_bills,
    "/api/v5/asset/currencies": views.asset_currencies,
    "/api/v5/asset/asset-valuation": views.asset_valuation,
    "/api/v5/asset/deposit-history": history.deposit_history,
    "/api/v5/asset/withdrawal-history": history.withdrawal_history,
    "/api/v5/finance/savings/balance": views.savings_balance,
    "/api/v5/finance/staking-defi/orders-active": views.staking_orders,
    "/api/v5/finance/staking-defi/eth/balance": views.eth_staking_balance,
    "/api/v5/trade/fills": history.recent_fills,
    "/api/v5/trade/fills-history": history.fills_history,
}
CONFIG_PATH = "/api/v5/account/config"


def failure_response(exc: OkxFailure) -> web.Response:
    """The OKX error envelope with the code's HTTP status, tagged for the request log."""
    return respond(error_body(exc.code, exc.msg), status=exc.status, code=exc.code)


_FAULT_CODES = {
    "http500": "50026",
    "unavailable": "50001",
    "rate_limit": "50011",
    "timeout": "50004",
    "not_found": "404",
    "bad_method": "405",
}


def answer(kind: str) -> web.Response:
    """OKX's answer for an injected fault, an unknown path or a wrong method."""
    code = _FAULT_CODES[kind]
    if kind in ("not_found", "bad_method"):
        reason = "Not Found" if kind == "not_found" else "Method Not Allowed"
        return respond(error_body(code, reason), status=int(code), code=code)
    return failure_response(failure(code))


def header_key(request: web.Request) -> str | None:
    """The API key a request presents (``OK-ACCESS-KEY``)."""
    return request.headers.get("OK-ACCESS-KEY") or None


def _check_rate(rt: Runtime, who: str, what: str, limit: tuple[int, float] | None) -> None:
    if rt.rate_limit and limit is not None and not rt.limiter.allow(who, what, *limit):
        raise failure("50011")


async def authenticate(rt: Runtime, request: web.Request) -> KeyState:
    """The key of a signed request that may read, within the endpoint's rate limit (a ``POST``
    counts against its own limits, which its handler checks)."""
    body = await request.text()
    key = authenticate_rest(
        headers=request.headers,
        method=request.method,
        path_qs=request.raw_path,
        body=body,
        keys=rt.book.keys,
        region=rt.region,
        peer=request.remote,
        now=now(),
    )
    require_read(key)
    if request.method == "GET":
        _check_rate(rt, "key:" + key.api_key, request.path, PRIVATE_LIMITS.get(request.path))
    return key


def _public_handler(view: PublicView) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        rt = request.app[RUNTIME]
        try:
            what = request.path
            if what == "/api/v5/public/instruments":
                what += "?" + request.query.get("instType", "")
            _check_rate(rt, "ip:" + str(request.remote), what, PUBLIC_LIMITS.get(request.path))
            data = view(rt.book, request.query)
        except OkxFailure as exc:
            return failure_response(exc)
        return respond(ok_body(data))

    return handle


def _private_handler(view: PrivateView | None) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        rt = request.app[RUNTIME]
        try:
            key = await authenticate(rt, request)
            account = rt.book.accounts[key.account]
            if view is None:
                data = views.account_config(rt.book, account, key)
            else:
                data = view(rt.book, account, request.query)
        except OkxFailure as exc:
            return failure_response(exc)
        return respond(ok_body(data))

    return handle


def register(router: web.UrlDispatcher) -> None:
    """Add every OKX REST route (GET only, like the real read endpoints)."""
    for path, public_view in PUBLIC_ROUTES.items():
        router.add_get(path, _public_handler(public_view), allow_head=False)
    for path, private_view in PRIVATE_ROUTES.items():
        router.add_get(path, _private_handler(private_view), allow_head=False)
    router.add_get(CONFIG_PATH, _private_handler(None), allow_head=False)
    archive.register(router)
