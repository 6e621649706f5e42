"""Bybit V5 REST routes: faults, the IP limit, authentication, the per-UID limit, then the view.

Every answer is Bybit's envelope ``{"retCode": 0, "retMsg": "OK", "result": {...},
"retExtInfo": {}, "time": <ms>}``; errors are HTTP 200 with ``retCode`` != 0 (10001-10017).

Rate limits, as Bybit documents them:

* **per IP**: 600 requests in any 5 s on every path; the next one gets HTTP 403
  (``access too frequent``) and the IP is blocked for 10 minutes;
* **per UID and endpoint**: a fixed window (a second, or a minute for deposit and withdrawal
  records) with the documented limit; every private answer carries ``X-Bapi-Limit``,
  ``X-Bapi-Limit-Status`` (requests left) and ``X-Bapi-Limit-Reset-Timestamp`` (ms), and a request
  over the limit gets ``retCode`` 10006 ``Too many visits!``. Earn publishes no limit.
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
from keyfolio.sandbox.venues.bybit import account, history, views
from keyfolio.sandbox.venues.bybit.auth import BybitFailure, authenticate

__all__ = ["ROUTES", "Route", "envelope", "error_response", "register"]

logger = logging.getLogger(__name__)

Params = Mapping[str, str]
View = Callable[[Book, Key | None, Params], Any]

_IP_LIMIT = 600
_IP_WINDOW = 5.0
_IP_BAN_SECONDS = 600.0
_SECOND, _MINUTE = 1000, 60_000


@dataclass(frozen=True)
class Route:
    """One endpoint: its view, whether it is signed, its per-UID limit, its success message."""

    view: View
    signed: bool
    limit: tuple[int, int] | None = None
    """(requests, window in ms) per UID, or None where Bybit publishes none."""
    ok: str = "OK"


ROUTES: dict[str, Route] = {
    "/v5/market/time": Route(views.server_time, False),
    "/v5/market/instruments-info": Route(views.instruments_info, False),
    "/v5/market/tickers": Route(views.tickers, False),
    "/v5/earn/product": Route(views.earn_product, False, ok=""),
    "/v5/user/query-api": Route(account.query_api, True, (10, _SECOND), ok=""),
    "/v5/account/info": Route(account.account_info, True, (50, _SECOND), ok="success"),
    "/v5/account/wallet-balance": Route(account.wallet_balance, True, (50, _SECOND)),
    "/v5/asset/transfer/query-account-coins-balance": Route(
        account.coins_balance, True, (5, _SECOND), ok="success"
    ),
    "/v5/asset/transfer/query-account-coin-balance": Route(
        account.coin_balance, True, (450, _SECOND), ok="success"
    ),
    "/v5/earn/position": Route(account.earn_position, True, ok=""),
    "/v5/asset/coin/query-info": Route(account.coin_info, True, (5, _SECOND), ok="success"),
    "/v5/execution/list": Route(history.execution_list, True, (50, _SECOND)),
    "/v5/asset/deposit/query-record": Route(
        history.deposit_records, True, (100, _MINUTE), ok="success"
    ),
    "/v5/asset/withdraw/query-record": Route(
        history.withdraw_records, True, (300, _MINUTE), ok="success"
    ),
    "/v5/account/transaction-log": Route(history.transaction_log, True, (25, _SECOND)),
}


def envelope(result: Any, *, code: int = 0, msg: str = "OK") -> dict[str, Any]:
    """Bybit's answer envelope (``time`` is the server's ms)."""
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms()}


def error_response(exc: BybitFailure) -> web.Response:
    """The answer to a failure: an envelope with HTTP 200, or the bare HTTP status (401/403)."""
    if exc.code == 0:
        text = {401: "401 Unauthorized", 403: "access too frequent"}.get(exc.status, "")
        return respond(text, status=exc.status, code=str(exc.status), headers=exc.headers,
                       content_type="text/plain")  # fmt: skip
    body = envelope({}, code=exc.code, msg=exc.msg)
    return respond(body, status=exc.status, code=str(exc.code), headers=exc.headers)


def _bans(rt: Runtime) -> dict[str, float]:
    found: dict[str, float] = rt.extras.setdefault("bybit_ip_bans", {})
    return found


def _check_ip(rt: Runtime, ip: str) -> None:
    """600 requests per 5 s per IP; over it, HTTP 403 and a 10-minute block."""
    if not rt.rate_limit:
        return
    bans = _bans(rt)
    now = time.monotonic()
    if bans.get(ip, 0.0) > now:
        rt.limiter.refuse("ip block")
        raise BybitFailure(0, "", status=403)
    if not rt.limiter.allow("ip:" + ip, "bybit", _IP_LIMIT, _IP_WINDOW):
        bans[ip] = now + _IP_BAN_SECONDS
        logger.info("sandbox bybit: IP %s blocked for %.0f s", ip, _IP_BAN_SECONDS)
        raise BybitFailure(0, "", status=403)


def _check_uid(rt: Runtime, key: Key, path: str, limit: tuple[int, int]) -> dict[str, str]:
    """Count one request in the UID's fixed window for ``path``; the X-Bapi-Limit headers."""
    most, width = limit
    windows: dict[tuple[str, str], tuple[int, int]] = rt.extras.setdefault("bybit_uid", {})
    now = now_ms()
    start = now - now % width
    opened, used = windows.get((key.account, path), (start, 0))
    if opened != start:
        used = 0
    headers = {
        "X-Bapi-Limit": str(most),
        "X-Bapi-Limit-Status": str(max(0, most - used - 1)),
        "X-Bapi-Limit-Reset-Timestamp": str(start + width),
    }
    if used >= most and rt.rate_limit:
        rt.limiter.refuse(path)
        raise BybitFailure(
            10006, "Too many visits!", headers={**headers, "X-Bapi-Limit-Status": "0"}
        )
    windows[(key.account, path)] = (start, used + 1)
    return headers


def _handler(path: str, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        rt = request.app[RUNTIME]
        raw_query = request.rel_url.raw_query_string
        body = await request.text()
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        peer = request.remote or ""
        headers: dict[str, str] = {}
        try:
            _check_ip(rt, peer)
            key: Key | None = None
            if route.signed:
                key = authenticate(
                    headers=request.headers,
                    query=params,
                    payload=raw_query if request.method == "GET" else body,
                    keys=rt.common_book.keys,
                    peer=request.remote,
                    now_ms=now_ms(),
                )
                if route.limit is not None:
                    headers = _check_uid(rt, key, path, route.limit)
            payload = route.view(rt.common_book, key, params)
        except BybitFailure as exc:
            return error_response(exc)
        return respond(envelope(payload, msg=route.ok), headers=headers)

    return handle


def register(router: web.UrlDispatcher) -> None:
    """Add every REST route (all GET, as a read-only tracker uses them)."""
    for path, route in ROUTES.items():
        router.add_get(path, _handler(path, route), allow_head=False)
