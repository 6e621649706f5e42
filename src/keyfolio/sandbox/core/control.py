"""The control API under ``/__sandbox__/``, the same for every venue; loopback callers only.

=======  ==============================  ===================================================
method   path                            effect
=======  ==============================  ===================================================
POST     /__sandbox__/faults             queue a fault ``{"path","mode","count","seconds","after"}``
GET      /__sandbox__/faults             list queued faults
DELETE   /__sandbox__/faults             drop every queued fault
GET      /__sandbox__/faults/held        requests held by faults now (``?wait=S``: until one is;
                                         ``&count=N``: until N are)
POST     /__sandbox__/faults/release     release ``{"id"?}`` one held request, or all
PUT      /__sandbox__/state              start over with this state (books, faults, clock, log,
                                         WS)
GET      /__sandbox__/clock              the server's clock: ``{"offset_seconds","server_time_ms"}``
POST     /__sandbox__/clock              ``{"offset_seconds": 120}``: the server's time is the
                                         real time plus this (negative: behind)
POST     /__sandbox__/tickers            ``{"BTC-USDT": {"last": "61000"}}``; pushes tickers
POST     /__sandbox__/trade              ``{"account","symbol","side","amount","price"?}`` (OKX's
                                         ``instId``/``sz``/``px`` too); pushes balances
POST     /__sandbox__/balances           ``{"account","source","asset","amount"}`` (or ``ccy``)
GET      /__sandbox__/requests           the request log
POST     /__sandbox__/reset-log          empty the request log
POST     /__sandbox__/reset-limits       forget every rate-limit counter
GET      /__sandbox__/limits             rate limits: on/off, per-IP scale, requests refused,
                                         answers per HTTP status, each window's use
GET      /__sandbox__/ws                 open WebSockets and counters (opened, logins)
POST     /__sandbox__/ws/drop            close WebSockets ``{"kind"?: "all", "code"?: 4000}``
POST     /__sandbox__/ws/idle            ``{"seconds", "subscribed"?: false}`` idle close
=======  ==============================  ===================================================

A venue adds its own routes under ``/__sandbox__/<venue>/`` (``Venue.control_routes``; OKX's
archives: ``/__sandbox__/okx/archives``), behind the same loopback check.

Errors answer ``{"error": "..."}`` with HTTP 400 (bad body), 404 (unknown account) or 403
(a caller that is not on a loopback address).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from typing import Any

from aiohttp import web

from keyfolio.errors import SandboxStateError
from keyfolio.sandbox.core.book import BookError
from keyfolio.sandbox.core.faults import parse_fault
from keyfolio.sandbox.core.http import Handler
from keyfolio.sandbox.core.runtime import RUNTIME, Runtime

__all__ = ["is_loopback", "register"]

logger = logging.getLogger(__name__)


def is_loopback(peer: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses."""
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _error(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _loopback_only(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not is_loopback(request.remote):
            logger.warning("sandbox control API refused for %s", request.remote)
            return _error("the sandbox control API only answers loopback callers", 403)
        try:
            return await handler(request)
        except BookError as exc:
            status = 404 if str(exc).startswith("unknown account") else 400
            return _error(str(exc), status)
        except ValueError as exc:
            return _error(str(exc))

    return guarded


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"the body is not JSON: {exc.msg}") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _text(body: dict[str, Any], *names: str, required: bool = True) -> str | None:
    """The first of ``names`` present in ``body`` (a non-empty string), or None if optional."""
    for name in names:
        if name in body:
            value = body[name]
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name!r} must be a non-empty string")
            return value
    if required:
        raise ValueError(f"{names[0]!r} must be a non-empty string")
    return None


def _only(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")


async def add_fault(request: web.Request) -> web.StreamResponse:
    """``POST /__sandbox__/faults``."""
    rt = request.app[RUNTIME]
    rt.faults.add(parse_fault(await _body(request)))
    return web.json_response({"ok": True, "faults": rt.faults.pending()})


async def list_faults(request: web.Request) -> web.StreamResponse:
    """``GET /__sandbox__/faults``."""
    return web.json_response({"faults": request.app[RUNTIME].faults.pending()})


async def clear_faults(request: web.Request) -> web.StreamResponse:
    """``DELETE /__sandbox__/faults``."""
    request.app[RUNTIME].faults.clear()
    return web.json_response({"ok": True, "faults": []})


async def held_requests(request: web.Request) -> web.StreamResponse:
    """``GET /__sandbox__/faults/held``: requests held by faults right now, oldest first.

    With ``?wait=SECONDS`` the answer waits until at least one request is held (``&count=N``:
    at least N) or that many seconds passed, so a test needs no polling loop.
    """
    faults = request.app[RUNTIME].faults
    raw = request.query.get("wait")
    if raw is None:
        return web.json_response({"held": faults.held()})
    try:
        wait = float(raw)
        count = int(request.query.get("count", "1"))
    except ValueError:
        raise ValueError("wait must be a number of seconds, count a whole number") from None
    if not 0 <= wait <= 600:
        raise ValueError("wait must be between 0 and 600 seconds")
    if count < 1:
        raise ValueError("count must be 1 or more")
    try:
        async with asyncio.timeout(wait):
            return web.json_response({"held": await faults.wait_held(count)})
    except TimeoutError:
        return web.json_response({"held": faults.held()})


async def release_held(request: web.Request) -> web.StreamResponse:
    """``POST /__sandbox__/faults/release``: ``{"id": n}`` releases one, ``{}`` all."""
    body = await _body(request) if (await request.text()).strip() else {}
    _only(body, {"id"})
    request_id = body.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, int)):
        raise ValueError("id must be the integer id of a held request")
    released = request.app[RUNTIME].faults.release(request_id)
    if request_id is not None and not released:
        raise ValueError(f"no held request with id {request_id}")
    return web.json_response({"ok": True, "released": released})


async def replace_state(request: web.Request) -> web.StreamResponse:
    """``PUT /__sandbox__/state``: serve this state from now on, as if freshly started.

    The books are rebuilt from the document (a state of this server's venue); faults, held
    requests, the clock offset, the request log, the rate-limit counters, the venue's own
    counters and the WebSocket counters are reset, and open WebSockets closed (code 1012).
    Server options (region, latency, rate limits on/off, idle timeout) stay.
    """
    rt = request.app[RUNTIME]
    body = await _body(request)
    exchange = body.get("exchange", "okx")
    if exchange != rt.venue.id:
        raise ValueError(f"this sandbox serves {rt.venue.id}, not a {exchange!r} state")
    try:
        state = rt.venue.parse_state(body, origin="<PUT /__sandbox__/state>")
    except SandboxStateError as exc:
        raise ValueError(exc.message) from None
    rt.clock.set_offset(0)
    rt.book = rt.venue.build_book(state)
    rt.faults.clear()
    rt.faults.release()
    rt.log.clear()
    rt.limiter.reset()
    rt.statuses.clear()
    rt.extras.clear()
    closed = await rt.hub.drop(kind="all", code=1012)
    rt.ws_stats = {"opened": 0, "logins": 0, "login_failures": 0}
    logger.info("sandbox: state replaced (%d WebSocket connection(s) closed)", closed)
    return web.json_response({"ok": True, "closed": closed})


def _clock_json(rt: Runtime) -> dict[str, Any]:
    return {"offset_seconds": rt.clock.offset_ms / 1000, "server_time_ms": rt.clock.now_ms()}


async def clock_state(request: web.Request) -> web.StreamResponse:
    """``GET /__sandbox__/clock``: the offset and the server's time now."""
    return web.json_response(_clock_json(request.app[RUNTIME]))


async def set_clock(request: web.Request) -> web.StreamResponse:
    """``POST /__sandbox__/clock``: ``{"offset_seconds": S}`` runs the server's clock S seconds
    ahead of the real time (behind when negative; 0 puts it back). Every timestamp check, the
    venue's server-time endpoint and the times it stamps follow it, as on an exchange whose
    clock differs from the client's."""
    rt = request.app[RUNTIME]
    body = await _body(request)
    _only(body, {"offset_seconds"})
    seconds = body.get("offset_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError("offset_seconds must be a number of seconds (negative: behind)")
    rt.clock.set_offset(seconds)
    logger.info("sandbox: clock offset %+.3f s", rt.clock.offset_ms / 1000)
    return web.json_response({"ok": True, **_clock_json(rt)})


async def set_tickers(request: web.Request) -> web.StreamResponse:
    """``POST /__sandbox__/tickers``: change prices, push the public ticker channel."""
    rt = request.app[RUNTIME]
    updated = rt.book.set_tickers(await _body(request))
    pushed = await rt.venue.push_tickers(rt, updated)
    return web.json_response({"ok": True, "updated": updated, "pushed": pushed})


async def trade(request: web.Request) -> web.StreamResponse:
    """``POST /__sandbox__/trade``: a spot trade with a 0.1 % fee; pushes the balance change."""
    rt = request.app[RUNTIME]
    body = await _body(request)
    _only(body, {"account", "symbol", "instId", "side", "amount", "sz", "price", "px"})
    account = _text(body, "account")
    symbol = _text(body, "symbol", "instId")
    side = _text(body, "side")
    amount = _text(body, "amount", "sz")
    price = _text(body, "price", "px", required=False)
    assert account is not None and symbol is not None and side is not None and amount is not None
    fill, changed = rt.book.trade(account, symbol, side, amount, price)
    pushed = await rt.venue.push_balances(rt, account, changed)
    return web.json_response({"ok": True, "fill": rt.venue.fill_json(fill), "pushed": pushed})


async def set_balance(request: web.Request) -> web.StreamResponse:
    """``POST /__sandbox__/balances``: set one balance; pushes it where the venue streams it."""
    rt = request.app[RUNTIME]
    body = await _body(request)
    _only(body, {"account", "source", "asset", "ccy", "amount"})
    account, source = _text(body, "account"), _text(body, "source")
    asset, amount = _text(body, "asset", "ccy"), _text(body, "amount")
    assert account is not None and source is not None and asset is not None and amount is not None
    rt.book.set_balance(account, source, asset, amount)
    pushed = 0
    if source == rt.book.trading_source:
        pushed = await rt.venue.push_balances(rt, account, [asset])
    return web.json_response({"ok": True, "pushed": pushed})


async def requests_log(request: web.Request) -> web.StreamResponse:
    """``GET /__sandbox__/requests``: ``[{method, path, key, code, status}, ...]``."""
    return web.json_response(request.app[RUNTIME].log)


async def reset_log(request: web.Request) -> web.StreamResponse:
    """``POST /__sandbox__/reset-log``."""
    request.app[RUNTIME].log.clear()
    return web.json_response({"ok": True})


async def reset_limits(request: web.Request) -> web.StreamResponse:
    """``POST /__sandbox__/reset-limits``."""
    rt = request.app[RUNTIME]
    rt.limiter.reset()
    rt.statuses.clear()
    rt.extras.clear()
    return web.json_response({"ok": True})


async def limits(request: web.Request) -> web.StreamResponse:
    """``GET /__sandbox__/limits``: whether the limits are on, the per-IP scale, the requests
    the venue's limits refused (in the venue's own words: a 429, Bybit's ``10006``, Kraken's
    ``EAPI:Rate limit exceeded``...), the API answers per HTTP status, and each window's use."""
    rt = request.app[RUNTIME]
    statuses = {str(status): count for status, count in sorted(rt.statuses.items())}
    return web.json_response(
        {"enforced": rt.rate_limit, **rt.limiter.describe(), "statuses": statuses}
    )


async def ws_state(request: web.Request) -> web.StreamResponse:
    """``GET /__sandbox__/ws``: the open connections and the WebSocket counters."""
    rt = request.app[RUNTIME]
    return web.json_response(
        {"connections": rt.hub.describe(), **rt.ws_stats, "idle_timeout": rt.ws_idle_timeout}
    )


async def ws_drop(request: web.Request) -> web.StreamResponse:
    """``POST /__sandbox__/ws/drop``: close every (private / public) WebSocket, a WS fault."""
    rt = request.app[RUNTIME]
    body = await _body(request)
    _only(body, {"kind", "code"})
    kind, code = body.get("kind", "all"), body.get("code", 4000)
    if kind not in ("all", "private", "public"):
        raise ValueError("kind must be one of all, private, public")
    if isinstance(code, bool) or not isinstance(code, int) or not 1000 <= code <= 4999:
        raise ValueError("code must be a WebSocket close code (1000-4999)")
    closed = await rt.hub.drop(kind=kind, code=code)
    logger.info("sandbox: dropped %d WebSocket connection(s) with code %d", closed, code)
    return web.json_response({"ok": True, "closed": closed})


async def ws_idle(request: web.Request) -> web.StreamResponse:
    """``POST /__sandbox__/ws/idle``: the idle timeout, and whether it closes subscribed ones."""
    rt = request.app[RUNTIME]
    body = await _body(request)
    _only(body, {"seconds", "subscribed"})
    seconds, subscribed = body.get("seconds"), body.get("subscribed", False)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise ValueError("seconds must be a positive number")
    if not isinstance(subscribed, bool):
        raise ValueError("subscribed must be true or false")
    rt.ws_idle_timeout, rt.ws_idle_subscribed = float(seconds), subscribed
    return web.json_response({"ok": True, "seconds": float(seconds), "subscribed": subscribed})


def register(
    router: web.UrlDispatcher, extra: list[tuple[str, str, Handler]] | None = None
) -> None:
    """Add the control routes and the venue's ``extra`` ones, each guarded by the loopback
    check."""
    routes: list[tuple[str, str, Handler]] = [
        ("POST", "/__sandbox__/faults", add_fault),
        ("GET", "/__sandbox__/faults", list_faults),
        ("DELETE", "/__sandbox__/faults", clear_faults),
        ("GET", "/__sandbox__/faults/held", held_requests),
        ("POST", "/__sandbox__/faults/release", release_held),
        ("PUT", "/__sandbox__/state", replace_state),
        ("GET", "/__sandbox__/clock", clock_state),
        ("POST", "/__sandbox__/clock", set_clock),
        ("POST", "/__sandbox__/tickers", set_tickers),
        ("POST", "/__sandbox__/trade", trade),
        ("POST", "/__sandbox__/balances", set_balance),
        ("GET", "/__sandbox__/requests", requests_log),
        ("POST", "/__sandbox__/reset-log", reset_log),
        ("POST", "/__sandbox__/reset-limits", reset_limits),
        ("GET", "/__sandbox__/limits", limits),
        ("GET", "/__sandbox__/ws", ws_state),
        ("POST", "/__sandbox__/ws/drop", ws_drop),
        ("POST", "/__sandbox__/ws/idle", ws_idle),
    ]
    for method, path, handler in [*routes, *(extra or [])]:
        router.add_route(method, path, _loopback_only(handler))
