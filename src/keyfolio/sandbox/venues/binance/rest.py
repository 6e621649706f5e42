"""Binance REST routes: faults, the IP weight limit, authentication, then the view.

Every answer is Binance's raw JSON: prices and amounts are strings (8 decimals on ``/api``,
unpadded on ``/sapi``), times are numbers of milliseconds (withdrawal times are UTC strings).
Errors are ``{"code": <int>, "msg": "..."}`` with the HTTP status Binance uses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from keyfolio.sandbox.core.book import Book, Key, now_ms
from keyfolio.sandbox.core.http import respond
from keyfolio.sandbox.core.runtime import RUNTIME, Runtime
from keyfolio.sandbox.venues.binance import account, history, views
from keyfolio.sandbox.venues.binance.auth import BinanceFailure, authenticate, failure

__all__ = ["ROUTES", "Route", "error_response", "register"]

logger = logging.getLogger(__name__)

Params = Mapping[str, str]
View = Callable[[Book, Key | None, Params], Any]

_API_WEIGHT_LIMIT = 6000  # per IP per minute, shared by every /api/* endpoint
_SAPI_IP_LIMIT = 12000  # per IP per minute, per /sapi/* endpoint
_SAPI_UID_LIMIT = 180000  # per account per minute, per /sapi/* endpoint
_MINUTE = 60.0
_BAN_SECONDS = 120  # the first 418 ban Binance gives is 2 minutes


@dataclass(frozen=True)
class Route:
    """One endpoint: its method, view, request weight and limit kind (``ip`` or ``uid``)."""

    method: str
    view: View
    weight: int
    signed: bool
    limit: str = "ip"


ROUTES: dict[str, Route] = {
    "/api/v3/ping": Route("GET", views.ping, 1, False),
    "/api/v3/time": Route("GET", views.server_time, 1, False),
    "/api/v3/exchangeInfo": Route("GET", views.exchange_info, 20, False),
    "/api/v3/ticker/24hr": Route("GET", views.ticker_24hr, 80, False),
    "/api/v3/ticker/price": Route("GET", views.ticker_price, 4, False),
    "/sapi/v1/system/status": Route("GET", views.system_status, 1, False),
    "/fapi/v1/exchangeInfo": Route("GET", views.no_derivatives, 1, False),
    "/dapi/v1/exchangeInfo": Route("GET", views.no_derivatives, 1, False),
    "/api/v3/account": Route("GET", account.account, 20, True),
    "/api/v3/myTrades": Route("GET", history.my_trades, 20, True),
    "/sapi/v1/asset/get-funding-asset": Route("POST", account.funding_asset, 1, True),
    "/sapi/v3/asset/getUserAsset": Route("POST", account.user_asset, 5, True),
    "/sapi/v1/simple-earn/flexible/position": Route("GET", account.flexible_position, 150, True),
    "/sapi/v1/simple-earn/locked/position": Route("GET", account.locked_position, 150, True),
    "/sapi/v1/simple-earn/account": Route("GET", account.earn_account, 150, True),
    "/sapi/v1/account/apiRestrictions": Route("GET", account.api_restrictions, 1, True),
    "/sapi/v1/capital/config/getall": Route("GET", account.coins, 10, True),
    "/sapi/v1/margin/allPairs": Route("GET", account.no_margin, 1, True),
    "/sapi/v1/margin/isolated/allPairs": Route("GET", account.no_margin, 10, True),
    "/sapi/v1/capital/deposit/hisrec": Route("GET", history.deposits, 1, True),
    "/sapi/v1/capital/withdraw/history": Route(
        "GET", history.withdrawals, 18000, True, limit="uid"
    ),
}


def error_response(exc: BinanceFailure) -> web.Response:
    """The JSON error answer; rate limits carry ``Retry-After``."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return respond(exc.body(), status=exc.status, code=str(exc.code), headers=headers)


def _params(query: str, body: str) -> dict[str, str]:
    """Query and form parameters; for a name sent in both, the query wins (as on Binance)."""
    merged = dict(parse_qsl(body, keep_blank_values=True))
    merged.update(parse_qsl(query, keep_blank_values=True))
    return merged


def _banned_until(rt: Runtime) -> dict[str, float]:
    found: dict[str, float] = rt.extras.setdefault("binance_bans", {})
    return found


def _check_ip_weight(rt: Runtime, ip: str, path: str, route: Route) -> dict[str, str]:
    """Count the request's weight; 429 when over, 418 for an IP that keeps going after a 429."""
    bans = _banned_until(rt)
    now = time.monotonic()
    if bans.get(ip, 0.0) > now:
        rt.limiter.refuse("ban")
        seconds = max(1, int(bans[ip] - now))
        bans[ip] = now + max(_BAN_SECONDS, 2 * seconds)
        raise BinanceFailure(
            -1003,
            f"Way too many requests; IP({ip}) banned until {now_ms() + seconds * 1000}. "
            "Please use the websocket for live updates to avoid bans.",
            418,
            retry_after=seconds,
        )
    bucket, limit = ("api", _API_WEIGHT_LIMIT)
    header = "X-MBX-USED-WEIGHT-1M"
    if path.startswith("/sapi/"):
        bucket, limit, header = (path, _SAPI_IP_LIMIT, "X-SAPI-USED-IP-WEIGHT-1M")
    who = "ip:" + ip
    allowed = rt.limiter.allow(
        who, bucket, limit, _MINUTE, weight=route.weight, enforce=rt.rate_limit
    )
    if not allowed:
        retry = rt.limiter.retry_after(who, bucket, _MINUTE)
        bans[ip] = now + retry  # a request before Retry-After has passed gets a 418 ban
        exc = failure(-1003, ip=ip, limit=rt.limiter.limit_of(who, limit, weight=route.weight))
        exc.retry_after = retry
        raise exc
    return {header: str(rt.limiter.used(who, bucket, _MINUTE))}


def _check_uid_weight(rt: Runtime, key: Key, path: str, route: Route) -> dict[str, str]:
    who = "uid:" + key.account
    if rt.rate_limit and not rt.limiter.allow(
        who, path, _SAPI_UID_LIMIT, _MINUTE, weight=route.weight
    ):
        exc = failure(-1003, ip=key.account, limit=_SAPI_UID_LIMIT)
        exc.msg = (
            f"Too many requests; current limit of UID({key.account}) request weight is "
            f"{_SAPI_UID_LIMIT} per 1 MINUTE."
        )
        exc.retry_after = rt.limiter.retry_after(who, path, _MINUTE)
        raise exc
    return {"X-SAPI-USED-UID-WEIGHT-1M": str(rt.limiter.used(who, path, _MINUTE))}


def _handler(path: str, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        rt = request.app[RUNTIME]
        body = await request.text()
        query = request.query_string
        params = _params(query, body)
        peer = request.remote or ""
        try:
            headers = {}
            if route.limit == "ip":
                headers = _check_ip_weight(rt, peer, path, route)
            key: Key | None = None
            if route.signed:
                key = authenticate(
                    headers=request.headers,
                    path=path,
                    query=query,
                    body=body,
                    params=params,
                    keys=rt.common_book.keys,
                    peer=request.remote,
                    now_ms=now_ms(),
                )
                if route.limit == "uid":
                    headers = _check_uid_weight(rt, key, path, route)
            payload = route.view(rt.common_book, key, params)
        except BinanceFailure as exc:
            return error_response(exc)
        return respond(payload, headers=headers)

    return handle


def register(router: web.UrlDispatcher) -> None:
    """Add every REST route with its method (GET or POST, as on Binance)."""
    for path, route in ROUTES.items():
        if route.method == "GET":
            router.add_get(path, _handler(path, route), allow_head=False)
        else:
            router.add_post(path, _handler(path, route))
