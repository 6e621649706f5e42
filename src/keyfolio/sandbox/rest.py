"""The OKX V5 REST routes: faults, then authentication, permission, rate limit, view.

Also the middleware every request passes through: ``--latency-ms``, the request log, and
JSON answers for unknown paths (404) and wrong methods (405).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from keyfolio.sandbox import history, market, views
from keyfolio.sandbox.auth import authenticate_rest, require_read
from keyfolio.sandbox.book import Account, Book
from keyfolio.sandbox.faults import MALFORMED_BODY, Fault
from keyfolio.sandbox.limits import PRIVATE_LIMITS, PUBLIC_LIMITS
from keyfolio.sandbox.protocol import OkxFailure, error_body, failure, ok_body
from keyfolio.sandbox.runtime import RUNTIME, Runtime
from keyfolio.sandbox.state import KeyState

__all__ = ["PRIVATE_ROUTES", "PUBLIC_ROUTES", "middleware", "register"]

logger = logging.getLogger(__name__)

Query = Mapping[str, str]
PublicView = Callable[[Book, Query], list[dict[str, Any]]]
PrivateView = Callable[[Book, Account, Query], list[dict[str, Any]]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LOG_CODE = web.ResponseKey("keyfolio_sandbox_code", str)

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
    "/api/v5/account/bills": history.account_bills,
    "/api/v5/account/bills-archive": history.account_bills,
    "/api/v5/asset/balances": views.asset_balances,
    "/api/v5/asset/bills": history.funding_bills,
    "/api/v5/asset/currencies": views.asset_currencies,
    "/api/v5/asset/asset-valuation": views.asset_valuation,
    "/api/v5/asset/deposit-history": history.deposit_history,
    "/api/v5/asset/withdrawal-history": history.withdrawal_history,
    "/api/v5/finance/savings/balance": views.savings_balance,
    "/api/v5/finance/staking-defi/orders-active": views.staking_orders,
    "/api/v5/finance/staking-defi/eth/balance": views.eth_staking_balance,
    "/api/v5/trade/fills": history.fills,
    "/api/v5/trade/fills-history": history.fills,
}
CONFIG_PATH = "/api/v5/account/config"


def _json(body: str, status: int, code: str) -> web.Response:
    response = web.Response(text=body, status=status, content_type="application/json")
    response[LOG_CODE] = code
    return response


def _failure_response(exc: OkxFailure) -> web.Response:
    return _json(error_body(exc.code, exc.msg), exc.status, exc.code)


async def _fault_response(rt: Runtime, request: web.Request, fault: Fault) -> web.Response:
    logger.info("sandbox fault %s on %s", fault.mode, request.path)
    if fault.mode == "malformed":
        return _json(MALFORMED_BODY, 200, "malformed")
    if fault.mode == "timeout":
        # Log now: the client will have given up long before the answer.
        rt.record(request.method, request.raw_path, _header_key(request), "50004", 400)
        await rt.faults.hold(request.method, request.raw_path, rt.stopping, fault.seconds)
        exc = failure("50004")
        return web.Response(
            text=error_body(exc.code, exc.msg), status=exc.status, content_type="application/json"
        )
    code = {"http500": "50026", "code50001": "50001", "code50011": "50011"}[fault.mode]
    return _failure_response(failure(code))


async def _apply_fault(rt: Runtime, request: web.Request, *, private: bool) -> web.Response | None:
    """The fault's answer, or None to answer normally (no fault, or a released ``hold``)."""
    fault = rt.faults.take(request.path, private=private)
    if fault is None:
        return None
    if fault.mode == "hold":
        logger.info("sandbox fault hold on %s: held until released", request.path)
        await rt.faults.hold(request.method, request.raw_path, rt.stopping)
        return None
    return await _fault_response(rt, request, fault)


def _header_key(request: web.Request) -> str | None:
    return request.headers.get("OK-ACCESS-KEY") or None


def _check_rate(rt: Runtime, who: str, what: str, limit: tuple[int, float] | None) -> None:
    if rt.rate_limit and limit is not None and not rt.limiter.allow(who, what, *limit):
        raise failure("50011")


async def _authenticate(rt: Runtime, request: web.Request) -> KeyState:
    body = await request.text()
    key = authenticate_rest(
        headers=request.headers,
        method=request.method,
        path_qs=request.raw_path,
        body=body,
        keys=rt.book.keys,
        region=rt.region,
        peer=request.remote,
        now=time.time(),
    )
    require_read(key)
    _check_rate(rt, "key:" + key.api_key, request.path, PRIVATE_LIMITS.get(request.path))
    return key


def _public_handler(view: PublicView) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        rt = request.app[RUNTIME]
        fault = await _apply_fault(rt, request, private=False)
        if fault is not None:
            return fault
        try:
            what = request.path
            if what == "/api/v5/public/instruments":
                what += "?" + request.query.get("instType", "")
            _check_rate(rt, "ip:" + str(request.remote), what, PUBLIC_LIMITS.get(request.path))
            data = view(rt.book, request.query)
        except OkxFailure as exc:
            return _failure_response(exc)
        return _json(ok_body(data), 200, "0")

    return handle


def _private_handler(view: PrivateView | None) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        rt = request.app[RUNTIME]
        fault = await _apply_fault(rt, request, private=True)
        if fault is not None:
            return fault
        try:
            key = await _authenticate(rt, request)
            account = rt.book.accounts[key.account]
            if view is None:
                data = views.account_config(rt.book, account, key)
            else:
                data = view(rt.book, account, request.query)
        except OkxFailure as exc:
            return _failure_response(exc)
        return _json(ok_body(data), 200, "0")

    return handle


def register(router: web.UrlDispatcher) -> None:
    """Add every OKX REST route (GET only, like the real read endpoints)."""
    for path, public_view in PUBLIC_ROUTES.items():
        router.add_get(path, _public_handler(public_view), allow_head=False)
    for path, private_view in PRIVATE_ROUTES.items():
        router.add_get(path, _private_handler(private_view), allow_head=False)
    router.add_get(CONFIG_PATH, _private_handler(None), allow_head=False)


def _http_error(exc: web.HTTPException) -> web.Response:
    code = str(exc.status)
    return _json(error_body(code, exc.reason), exc.status, code)


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency, JSON 404/405, and the request log (control and WS requests are not logged)."""
    rt = request.app[RUNTIME]
    is_control = request.path.startswith("/__sandbox__/")
    if rt.latency_ms and not is_control:
        await asyncio.sleep(rt.latency_ms / 1000)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _http_error(exc)
    if not is_control and LOG_CODE in response:
        rt.record(
            request.method, request.raw_path, _header_key(request), response[LOG_CODE],
            response.status,
        )  # fmt: skip
    return response
