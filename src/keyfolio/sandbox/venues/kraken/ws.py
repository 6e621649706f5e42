"""Kraken's WebSocket v2 (``/v2``): the private ``balances`` channel, authenticated by a token.

* On connect: ``{"channel": "status", "type": "update", "data": [{"api_version": "v2", ...}]}``.
* ``{"method": "subscribe", "params": {"channel": "balances", "token": "...", "snapshot": true},
  "req_id": 1}`` with a token from ``POST /0/private/GetWebSocketsToken`` -> an ack
  ``{"method": "subscribe", "result": {"channel": "balances", "snapshot": true}, "success": true,
  "req_id": 1, ...}``, then the snapshot: one entry per asset in normalized codes (``BTC``), the
  earn sub-balances among its ``wallets``. An unknown token -> ``{"error": "ESession:Invalid
  session", "success": false, ...}``.
* After a trade (or a control-API balance change) an ``update`` per changed balance row, as the
  ledger entry that made it (``type``, ``amount``, ``fee``, ``balance`` after).
* ``{"method": "ping"}`` -> ``{"method": "pong"}``; v1's ``{"event": "ping"}`` -> ``{"event":
  "pong"}``. Numbers are JSON numbers here (unlike REST's strings).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from keyfolio.sandbox.core.book import now_ms
from keyfolio.sandbox.core.runtime import RUNTIME, Connection, Runtime
from keyfolio.sandbox.venues.kraken.auth import has_permission
from keyfolio.sandbox.venues.kraken.book import KrakenBook, base_code, wallet_of

__all__ = ["WS_PATH", "push_balances", "register"]

logger = logging.getLogger(__name__)

WS_PATH = "/v2"
INVALID_SESSION = "ESession:Invalid session"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _answer(method: str, req_id: Any, *, result: Any = None, error: str | None = None) -> Any:
    stamp = _iso(now_ms())
    message: dict[str, Any] = {"method": method, "success": error is None}
    if error is None:
        message["result"] = result
    else:
        message["error"] = error
    if req_id is not None:
        message["req_id"] = req_id
    message.update({"time_in": stamp, "time_out": stamp})
    return message


def _snapshot(book: KrakenBook, account: str) -> list[dict[str, Any]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for code, amount in sorted(book.account(account).source("balances").items()):
        kind, wallet = wallet_of(code)
        grouped.setdefault(base_code(code), []).append(
            {"type": kind, "id": wallet, "balance": float(amount)}
        )
    return [
        {
            "asset": asset,
            "asset_class": "currency",
            "balance": float(sum(Decimal(str(w["balance"])) for w in wallets)),
            "wallets": wallets,
        }
        for asset, wallets in grouped.items()
    ]


async def _subscribe(rt: Runtime, conn: Connection, message: dict[str, Any]) -> None:
    req_id, params = message.get("req_id"), message.get("params")
    if not isinstance(params, dict) or params.get("channel") != "balances":
        await conn.send(_answer("subscribe", req_id, error="EGeneral:Invalid arguments"))
        return
    book: KrakenBook = rt.book
    api_key = book.tokens.get(str(params.get("token", "")))
    key = book.keys.get(api_key) if api_key else None
    if key is None or not has_permission(key, ("query-funds",)):
        rt.count("login_failures")
        error = INVALID_SESSION if key is None else "EAccount:Invalid permissions"
        await conn.send(_answer("subscribe", req_id, error=error))
        return
    conn.key, conn.private = key, True
    snapshot = params.get("snapshot", True) is not False
    conn.subs.append({"channel": "balances", "account": key.account})
    rt.count("logins")
    await conn.send(_answer("subscribe", req_id, result={"channel": "balances",
                                                          "snapshot": snapshot}))  # fmt: skip
    if snapshot:
        await _send(conn, "snapshot", _snapshot(book, key.account))


async def _send(conn: Connection, kind: str, data: list[dict[str, Any]]) -> None:
    sequence = int(conn.state.get("sequence", 0)) + 1
    conn.state["sequence"] = sequence
    await conn.send({"channel": "balances", "type": kind, "data": data, "sequence": sequence})


async def _on_message(rt: Runtime, conn: Connection, text: str) -> None:
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        message = None
    if not isinstance(message, dict):
        await conn.send({"error": "Malformed request", "success": False})
        return
    if message.get("event") == "ping":  # v1
        await conn.send({"event": "pong", "reqid": message.get("reqid")})
        return
    method = message.get("method")
    if method == "ping":
        stamp = _iso(now_ms())
        await conn.send(
            {"method": "pong", "req_id": message.get("req_id"), "time_in": stamp, "time_out": stamp}
        )
    elif method == "subscribe":
        await _subscribe(rt, conn, message)
    elif method == "unsubscribe":
        conn.subs.clear()
        await conn.send(_answer("unsubscribe", message.get("req_id"),
                                result={"channel": "balances"}))  # fmt: skip
    else:
        await conn.send(_answer(str(method), message.get("req_id"), error="Method not found"))


def _update(book: KrakenBook, account: str, code: str) -> dict[str, Any]:
    """The ledger entry that last changed ``code`` (a control-API change: an adjustment)."""
    acct = book.account(account)
    balance = acct.source("balances").get(code, Decimal(0))
    changed_at = acct.updated.get(code, now_ms())
    row = next((r for r in book.ledger(account) if r.asset == code), None)
    kind, wallet = wallet_of(code)
    entry: dict[str, Any] = {
        "ledger_id": row.id if row else "",
        "ref_id": row.refid if row else "",
        "timestamp": _iso(changed_at),
        "type": "adjustment",
        "asset": base_code(code),
        "asset_class": "currency",
        "category": "adjustment",
        "wallet_type": kind,
        "wallet_id": wallet,
        "amount": 0.0,
        "fee": 0.0,
        "balance": float(balance),
    }
    if row is not None and row.time_ms == changed_at:
        entry.update(type=row.type, category=row.type, amount=float(row.amount),
                     fee=float(row.fee))  # fmt: skip
    return entry


async def push_balances(rt: Runtime, account: str, changed: list[str]) -> int:
    """Send an ``update`` per changed balance row to the account's subscribers."""
    book: KrakenBook = rt.book
    data = [_update(book, account, code) for code in changed]
    sent = 0
    for conn in rt.hub.of_account(account):
        if conn.subs:
            await _send(conn, "update", data)
            sent += 1
    return sent


async def handle(request: web.Request) -> web.StreamResponse:
    """``GET /v2``: Kraken's WebSocket API v2 (public and authenticated on one path here)."""
    rt = request.app[RUNTIME]
    ws = web.WebSocketResponse(autoping=True, heartbeat=None)
    await ws.prepare(request)
    conn = Connection(ws=ws, private=False)
    rt.hub.connections.add(conn)
    rt.count("opened")
    await conn.send(
        {"channel": "status", "type": "update",
         "data": [{"api_version": "v2", "connection_id": int(conn.conn_id, 16),
                   "system": "online", "version": "2.0.10"}]}
    )  # fmt: skip
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
    """Add the WebSocket v2 route."""
    router.add_get(WS_PATH, handle, allow_head=False)
