"""OKX V5 WebSocket endpoints: ``/ws/v5/private`` (login, ``account``) and ``/ws/v5/public``
(``tickers``).

* Text ``ping`` is answered with text ``pong``.
* ``login``: ``{"op":"login","args":[{"apiKey","passphrase","timestamp","sign"}]}``;
  success ``{"event":"login","code":"0","msg":"","connId":...}``.
* ``subscribe`` acks ``{"event":"subscribe","arg":{...},"connId":...}`` then sends the
  current state: an ``account`` snapshot (``eventType: "snapshot"``) or the ticker.
* Errors are ``{"event":"error","code":"600xx","msg":...,"connId":...}`` (with the
  request's ``id`` echoed when it had one).
* A connection with no subscription that sends nothing for the idle timeout (30 s by
  default) is closed with code 4004. With ``Runtime.ws_idle_subscribed`` (real OKX's rule,
  set through ``POST /__sandbox__/ws/idle``) subscribed connections are closed too when the
  client sends nothing (not even a ``ping``) for the idle timeout.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from keyfolio.sandbox.core.clock import now
from keyfolio.sandbox.core.runtime import RUNTIME, Connection, Runtime
from keyfolio.sandbox.venues.okx.auth import authenticate_ws
from keyfolio.sandbox.venues.okx.book import Book
from keyfolio.sandbox.venues.okx.market import ticker_row
from keyfolio.sandbox.venues.okx.protocol import OkxFailure, failure
from keyfolio.sandbox.venues.okx.views import balance_snapshot

__all__ = ["account_push", "private_ws", "public_ws", "push_account", "push_tickers", "register"]

logger = logging.getLogger(__name__)

IDLE_CLOSE_CODE = 4004


def _error(conn: Connection, exc: OkxFailure, request_id: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"event": "error", "code": exc.code, "msg": exc.msg}
    if request_id is not None:
        payload = {"id": request_id, **payload}
    payload["connId"] = conn.conn_id
    return payload


def _ack(conn: Connection, event: str, arg: dict[str, str], request_id: str | None) -> Any:
    payload: dict[str, Any] = {"event": event, "arg": arg, "connId": conn.conn_id}
    return {"id": request_id, **payload} if request_id is not None else payload


async def _login(rt: Runtime, conn: Connection, args: list[Any], request_id: str | None) -> None:
    try:
        if not args:
            raise failure("60012", request="login needs one argument")
        key = authenticate_ws(args[0], keys=rt.book.keys, region=rt.region, now=now())
    except OkxFailure as exc:
        logger.info("sandbox ws %s: login refused with %s", conn.conn_id, exc.code)
        rt.count("login_failures")
        await conn.send(_error(conn, exc, request_id))
        return
    conn.key = key
    rt.count("logins")
    reply: dict[str, Any] = {"event": "login", "code": "0", "msg": "", "connId": conn.conn_id}
    await conn.send({"id": request_id, **reply} if request_id is not None else reply)


def _clean_arg(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise failure("60012", request=json.dumps(raw))
    return {str(k): v for k, v in raw.items()}


async def _subscribe_one(rt: Runtime, conn: Connection, raw: Any, request_id: str | None) -> None:
    arg = _clean_arg(raw)
    channel, inst_id = arg.get("channel", ""), arg.get("instId", "")
    if conn.private and channel == "account":
        if conn.key is None:
            raise failure("60011")
        first = account_push(rt.book, conn, arg, "snapshot", [])
        await conn.send(_ack(conn, "subscribe", arg, request_id))
        if arg not in conn.subs:
            conn.subs.append(arg)
        if first is not None:
            await conn.send(first)
        return
    if not conn.private and channel == "tickers" and inst_id in rt.book.tickers:
        await conn.send(_ack(conn, "subscribe", arg, request_id))
        if arg not in conn.subs:
            conn.subs.append(arg)
        await conn.send({"arg": arg, "data": [ticker_row(rt.book.tickers[inst_id])]})
        return
    raise failure("60018", channel=channel, inst_id=inst_id)


async def _on_message(rt: Runtime, conn: Connection, text: str) -> None:
    if text == "ping":
        await conn.send("pong")
        return
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("args", []), list):
        await conn.send(_error(conn, failure("60012", request=text), None))
        return
    raw_id = message.get("id")
    request_id = str(raw_id) if raw_id is not None else None
    op, args = message.get("op"), message.get("args", [])
    if op == "login":
        await _login(rt, conn, args, request_id)
    elif op in ("subscribe", "unsubscribe"):
        for raw in args:
            try:
                if op == "subscribe":
                    await _subscribe_one(rt, conn, raw, request_id)
                else:
                    arg = _clean_arg(raw)
                    conn.subs = [s for s in conn.subs if s != arg]
                    await conn.send(_ack(conn, "unsubscribe", arg, request_id))
            except OkxFailure as exc:
                await conn.send(_error(conn, exc, request_id))
    else:
        await conn.send(_error(conn, failure("60012", request=text), request_id))


def account_push(
    book: Book, conn: Connection, arg: dict[str, str], event: str, changed: list[str]
) -> dict[str, Any] | None:
    """The ``account`` channel message for one subscription, or None if nothing to say."""
    if conn.key is None:
        return None
    account = book.accounts[conn.key.account]
    wanted = {arg["ccy"]} if arg.get("ccy") else None
    if event == "event_update":
        wanted = set(changed) if wanted is None else wanted & set(changed)
        if not wanted:
            return None
    data = balance_snapshot(book, account, wanted, ws=True, include_zero=frozenset(changed))
    return {
        "arg": {**arg, "uid": account.uid},
        "eventType": event,
        "curPage": 1,
        "lastPage": True,
        "data": [data],
    }


async def push_account(rt: Runtime, account: str, changed: list[str]) -> int:
    """Push an ``event_update`` to every logged-in subscriber of ``account``."""
    sent = 0
    for conn in rt.hub.of_account(account):
        for arg in conn.subs:
            if arg.get("channel") != "account":
                continue
            message = account_push(rt.book, conn, arg, "event_update", changed)
            if message is not None:
                await conn.send(message)
                sent += 1
    return sent


async def push_tickers(rt: Runtime, inst_ids: list[str]) -> int:
    """Push the new tickers to every ``tickers`` subscriber of those instruments."""
    sent = 0
    for conn in list(rt.hub.connections):
        for arg in conn.subs:
            if arg.get("channel") == "tickers" and arg.get("instId") in inst_ids:
                ticker = rt.book.tickers[arg["instId"]]
                await conn.send({"arg": arg, "data": [ticker_row(ticker)]})
                sent += 1
    return sent


async def _serve(request: web.Request, *, private: bool) -> web.WebSocketResponse:
    rt = request.app[RUNTIME]
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    conn = Connection(ws=ws, private=private)
    rt.hub.connections.add(conn)
    rt.count("opened")
    logger.debug("sandbox ws %s opened (%s)", conn.conn_id, "private" if private else "public")
    try:
        while not ws.closed:
            idle_applies = not conn.subs or rt.ws_idle_subscribed
            timeout = rt.ws_idle_timeout if idle_applies else None
            try:
                msg = await ws.receive(timeout=timeout)
            except TimeoutError:
                logger.debug("sandbox ws %s: idle, closed with %d", conn.conn_id, IDLE_CLOSE_CODE)
                await ws.close(code=IDLE_CLOSE_CODE, message=b"No data received in 30s.")
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


async def private_ws(request: web.Request) -> web.StreamResponse:
    """``GET /ws/v5/private``: login and the ``account`` channel."""
    return await _serve(request, private=True)


async def public_ws(request: web.Request) -> web.StreamResponse:
    """``GET /ws/v5/public``: the ``tickers`` channel."""
    return await _serve(request, private=False)


def register(router: web.UrlDispatcher) -> None:
    """Add the two WebSocket routes."""
    router.add_get("/ws/v5/private", private_ws, allow_head=False)
    router.add_get("/ws/v5/public", public_ws, allow_head=False)
