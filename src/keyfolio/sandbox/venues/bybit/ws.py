"""Bybit V5 private WebSocket (``/v5/private``): ``auth``, the ``wallet`` topic, ``ping``.

* ``{"op": "auth", "args": [apiKey, expires, signature]}``: ``signature`` is the hex HMAC-SHA256
  of ``"GET/realtime" + expires`` and ``expires`` (ms) must be in the future. Success:
  ``{"success": true, "ret_msg": "", "op": "auth", "conn_id": ...}``. A refusal is
  ``{"success": false, "ret_msg": "Params Error", "op": "auth", ...}`` for an expired (or
  malformed) ``expires``, and ``{"success": false, "ret_msg": "error:USVC1111", "conn_id": ...,
  "request": {"op": "auth", "args": [...]}}`` for an unknown key, a wrong signature or an IP the
  key is not bound to.
* ``{"op": "subscribe", "req_id": ..., "args": ["wallet"]}`` answers ``{"success": true,
  "ret_msg": "", "op": "subscribe", "req_id": ..., "conn_id": ...}`` and pushes **nothing**
  until the Unified wallet changes (no snapshot: read REST first); then
  ``{"id", "topic": "wallet", "creationTime", "data": [<the wallet-balance account object with
  the coins that changed>]}``. Only the Unified wallet pushes.
* ``{"op": "ping", "req_id": ...}`` -> ``{"req_id", "op": "pong", "args": ["<ms>"], "conn_id"}``.
* A connection that sends nothing (not even a ping) for ``max_active_time`` (query parameter,
  ``30s`` to ``10m``, default 10 minutes) is closed; one without a subscription after the
  sandbox's idle timeout (``POST /__sandbox__/ws/idle``).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from aiohttp import WSMsgType, web

from keyfolio.sandbox.core.book import digest, now_ms
from keyfolio.sandbox.core.runtime import RUNTIME, Connection, Runtime
from keyfolio.sandbox.venues.bybit.account import wallet_row
from keyfolio.sandbox.venues.bybit.auth import WsRefusal, authenticate_ws

__all__ = ["WS_PATH", "push_wallet", "register"]

logger = logging.getLogger(__name__)

WS_PATH = "/v5/private"
TOPICS = ("wallet",)
_ACTIVE = re.compile(r"^(\d+)([sm])$")
_DEFAULT_ACTIVE = 600.0


def _max_active(raw: str | None) -> float | None:
    """Seconds of ``max_active_time`` (``30s``-``10m``), None when it is malformed."""
    if raw is None:
        return _DEFAULT_ACTIVE
    match = _ACTIVE.match(raw)
    if match is None:
        return None
    seconds = int(match.group(1)) * (60 if match.group(2) == "m" else 1)
    return float(seconds) if 30 <= seconds <= 600 else None


def _reply(conn: Connection, op: str, req_id: Any, **fields: Any) -> dict[str, Any]:
    reply: dict[str, Any] = {"success": True, "ret_msg": "", "op": op, "conn_id": conn.conn_id}
    reply.update(fields)
    if req_id is not None:
        reply["req_id"] = req_id
    return reply


async def _auth(rt: Runtime, conn: Connection, args: Any, req_id: Any) -> None:
    try:
        key = authenticate_ws(
            args, keys=rt.common_book.keys, peer=conn.state.get("peer"), now_ms=now_ms()
        )
    except WsRefusal as refused:
        rt.count("login_failures")
        logger.info("sandbox ws %s: auth refused (%s)", conn.conn_id, refused.ret_msg)
        reply = _reply(conn, "auth", req_id, success=False, ret_msg=refused.ret_msg)
        if refused.echo:
            del reply["op"]
            reply["request"] = {"op": "auth", "args": args}
        await conn.send(reply)
        return
    conn.key = key
    rt.count("logins")
    await conn.send(_reply(conn, "auth", req_id))


async def _subscribe(conn: Connection, args: Any, req_id: Any, *, subscribe: bool) -> None:
    op = "subscribe" if subscribe else "unsubscribe"
    topics = args if isinstance(args, list) else []
    unknown = [t for t in topics if t not in TOPICS]
    if not topics or unknown:
        topic = unknown[0] if unknown else ""
        await conn.send(_reply(conn, op, req_id, success=False,
                               ret_msg=f"error:handler not found,topic:{topic}"))  # fmt: skip
        return
    if conn.key is None:
        await conn.send(_reply(conn, op, req_id, success=False, ret_msg="Request not authorized"))
        return
    for topic in topics:
        if subscribe and topic not in conn.subs:
            conn.subs.append(topic)
        elif not subscribe and topic in conn.subs:
            conn.subs.remove(topic)
    await conn.send(_reply(conn, op, req_id))


async def _on_message(rt: Runtime, conn: Connection, text: str) -> None:
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        message = None
    if not isinstance(message, dict):
        await conn.send({"success": False, "ret_msg": "error:invalid op",
                         "conn_id": conn.conn_id})  # fmt: skip
        return
    op, args, req_id = message.get("op"), message.get("args"), message.get("req_id")
    if op == "auth":
        await _auth(rt, conn, args, req_id)
    elif op in ("subscribe", "unsubscribe"):
        await _subscribe(conn, args, req_id, subscribe=op == "subscribe")
    elif op == "ping":
        pong = {"op": "pong", "args": [str(now_ms())], "conn_id": conn.conn_id}
        await conn.send({"req_id": req_id, **pong} if req_id is not None else pong)
    else:
        await conn.send({"success": False, "ret_msg": "error:invalid op",
                         "conn_id": conn.conn_id, "request": {"op": op, "args": args}})  # fmt: skip


async def push_wallet(rt: Runtime, account: str, changed: list[str]) -> int:
    """Push the Unified wallet's changed coins to every ``wallet`` subscriber of ``account``."""
    book = rt.common_book
    acct = book.account(account)
    now = now_ms()
    sent = 0
    for conn in rt.hub.of_account(account):
        if "wallet" not in conn.subs:
            continue
        await conn.send({
            "id": digest("wallet", conn.conn_id, str(now), str(sent))[:32],
            "topic": "wallet",
            "creationTime": now,
            "data": [wallet_row(book, acct, changed)],
        })  # fmt: skip
        sent += 1
    return sent


async def handle(request: web.Request) -> web.StreamResponse:
    """``GET /v5/private``: the private stream."""
    rt = request.app[RUNTIME]
    active = _max_active(request.query.get("max_active_time"))
    if active is None:
        raise web.HTTPBadRequest(text="max_active_time must be between 30s and 10m")
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    conn = Connection(ws=ws, private=True)
    conn.state["peer"] = request.remote
    rt.hub.connections.add(conn)
    rt.count("opened")
    try:
        while not ws.closed:
            timeout = rt.ws_idle_timeout if not conn.subs or rt.ws_idle_subscribed else active
            try:
                msg = await ws.receive(timeout=timeout)
            except TimeoutError:
                logger.debug("sandbox ws %s: idle, closed", conn.conn_id)
                await ws.close(code=1000, message=b"max active time exceeded")
                break
            if msg.type == WSMsgType.TEXT:
                await _on_message(rt, conn, msg.data)
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                break
            elif msg.type == WSMsgType.ERROR:
                logger.debug("sandbox ws %s error: %s", conn.conn_id, ws.exception())
                break
    finally:
        rt.hub.connections.discard(conn)
    return ws


def register(router: web.UrlDispatcher) -> None:
    """Add the private WebSocket route."""
    router.add_get(WS_PATH, handle, allow_head=False)
