"""Binance's WebSocket API (``/ws-api/v3``): the user data stream through a signature subscription.

* ``{"id", "method": "userDataStream.subscribe.signature", "params": {"apiKey", "timestamp",
  "signature"}}`` -> ``{"id", "status": 200, "result": {"subscriptionId": 0}}``; a bad request
  -> ``{"id", "status": 400|401, "error": {"code", "msg"}}``.
* Events come as ``{"subscriptionId": 0, "event": {...}}``: ``outboundAccountPosition``, the
  absolute free/locked of the spot assets a trade (or a control-API balance change) changed.
* ``ping`` and ``time`` answer as Binance does. Only the spot wallet streams (funding and Earn
  have no push: poll them).

The listenKey endpoints were retired on 2026-02-20; the sandbox does not offer them.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from keyfolio.sandbox.core.book import now_ms
from keyfolio.sandbox.core.runtime import RUNTIME, Connection, Runtime
from keyfolio.sandbox.venues.binance.auth import BinanceFailure, authenticate_ws, failure
from keyfolio.sandbox.venues.binance.views import f8

__all__ = ["WS_PATH", "push_positions", "register"]

logger = logging.getLogger(__name__)

WS_PATH = "/ws-api/v3"


def _error(request_id: Any, exc: BinanceFailure) -> dict[str, Any]:
    status = exc.status if exc.status in (400, 401, 403, 429) else 400
    return {"id": request_id, "status": status, "error": {"code": exc.code, "msg": exc.msg}}


def _ok(request_id: Any, result: Any) -> dict[str, Any]:
    return {"id": request_id, "status": 200, "result": result, "rateLimits": []}


async def _subscribe(rt: Runtime, conn: Connection, request_id: Any, params: Any) -> None:
    if not isinstance(params, dict):
        await conn.send(_error(request_id, failure(-1102, param="params")))
        return
    try:
        key = authenticate_ws(
            params, keys=rt.common_book.keys, peer=conn.state.get("peer"), now_ms=now_ms()
        )
    except BinanceFailure as exc:
        rt.count("login_failures")
        await conn.send(_error(request_id, exc))
        return
    conn.key = key
    subscription = len(conn.subs)
    conn.subs.append({"subscriptionId": subscription, "account": key.account})
    rt.count("logins")
    await conn.send(_ok(request_id, {"subscriptionId": subscription}))


async def _on_message(rt: Runtime, conn: Connection, text: str) -> None:
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("method"), str):
        await conn.send(_error(None, failure(-1102, param="method")))
        return
    request_id, method = message.get("id"), message["method"]
    if method == "userDataStream.subscribe.signature":
        await _subscribe(rt, conn, request_id, message.get("params"))
    elif method == "userDataStream.unsubscribe":
        conn.subs.clear()
        await conn.send(_ok(request_id, {}))
    elif method == "ping":
        await conn.send(_ok(request_id, {}))
    elif method == "time":
        await conn.send(_ok(request_id, {"serverTime": now_ms()}))
    else:
        await conn.send(
            _error(request_id, BinanceFailure(-1100, f"Unknown method '{method}'.", 400))
        )


async def push_positions(rt: Runtime, account: str, changed: list[str]) -> int:
    """Send ``outboundAccountPosition`` with the new spot balances of ``changed``."""
    holdings = rt.common_book.account(account).source("spot")
    now = now_ms()
    event = {
        "e": "outboundAccountPosition",
        "E": now,
        "u": now,
        "B": [{"a": a, "f": f8(holdings.get(a, Decimal(0))), "l": f8(Decimal(0))} for a in changed],
    }
    sent = 0
    for conn in rt.hub.of_account(account):
        for sub in conn.subs:
            await conn.send({"subscriptionId": sub["subscriptionId"], "event": event})
            sent += 1
    return sent


async def handle(request: web.Request) -> web.StreamResponse:
    """``GET /ws-api/v3``: the WebSocket API (Binance closes idle sockets only after 24 h)."""
    rt = request.app[RUNTIME]
    ws = web.WebSocketResponse(autoping=True, heartbeat=None)
    await ws.prepare(request)
    conn = Connection(ws=ws, private=True)
    conn.state["peer"] = request.remote
    rt.hub.connections.add(conn)
    rt.count("opened")
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await _on_message(rt, conn, msg.data)
            elif msg.type == WSMsgType.ERROR:
                logger.debug("sandbox ws %s error: %s", conn.conn_id, ws.exception())
                break
    finally:
        rt.hub.connections.discard(conn)
    return ws


def register(router: web.UrlDispatcher) -> None:
    """Add the WebSocket API route."""
    router.add_get(WS_PATH, handle, allow_head=False)
