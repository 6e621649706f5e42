"""HTTP plumbing every venue shares: JSON answers carrying a log code, faults, the middleware.

Every REST answer a venue builds with :func:`respond` carries the venue's own result code (``"0"``,
``"-2015"``, ``"10003"``...) for the request log. The middleware adds ``--latency-ms``, applies
injected faults before the venue sees the request (so before authentication, for every venue
alike), records each API request, and turns unknown paths and wrong methods into the venue's own
answers. A venue's handlers never deal with faults.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from keyfolio.sandbox.core.clock import serving
from keyfolio.sandbox.core.faults import Fault
from keyfolio.sandbox.core.runtime import RUNTIME, Runtime

__all__ = [
    "CONTROL_PREFIX",
    "LOG_CODE",
    "MALFORMED_BODY",
    "Handler",
    "dumps",
    "middleware",
    "respond",
]

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOG_CODE = web.ResponseKey("keyfolio_sandbox_code", str)
CONTROL_PREFIX = "/__sandbox__/"
MALFORMED_BODY = '{"code":"0","msg":"","data":[{"ccy":"BTC","bal":"0.'
"""The body of a ``malformed`` fault: valid JSON cut short."""
RESET_MISSING = 64
"""A ``reset`` fault announces this many bytes more than it sends before the reset."""


def dumps(payload: Any) -> str:
    """Compact JSON, as the venues send it."""
    return json.dumps(payload, separators=(",", ":"))


def respond(
    payload: Any,
    *,
    status: int = 200,
    code: str = "0",
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
) -> web.Response:
    """An answer (JSON value, or text as is) tagged with ``code`` for the request log."""
    text = payload if isinstance(payload, str) else dumps(payload)
    response = web.Response(
        text=text, status=status, content_type=content_type, headers=dict(headers or {})
    )
    response[LOG_CODE] = code
    return response


async def _reset_mid_body(request: web.Request) -> web.StreamResponse:
    """Headers announcing a whole JSON body, the first part of it, then the connection aborted
    (no FIN, no rest of the body): what a proxy or a server dying mid-answer looks like."""
    body = MALFORMED_BODY.encode()
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = len(body) + RESET_MISSING
    response[LOG_CODE] = "reset"
    await response.prepare(request)
    await response.write(body)
    if request.transport is not None:
        request.transport.abort()
    return response


async def _fault_answer(rt: Runtime, request: web.Request, fault: Fault) -> web.StreamResponse:
    """The answer to a request that met an injected fault (``timeout`` is held first)."""
    logger.info("sandbox fault %s on %s", fault.mode, request.path)
    kind = fault.kind
    if kind == "malformed":
        return respond(MALFORMED_BODY, code="malformed")
    if kind == "reset":
        return await _reset_mid_body(request)
    if kind == "timeout":
        answer = rt.venue.answer("timeout", request)
        # Log now: the client will have given up long before the answer.
        code = answer.pop(LOG_CODE, "timeout")
        rt.record(
            request.method, request.raw_path, rt.venue.request_key(request), code, answer.status
        )
        await rt.faults.hold(request.method, request.raw_path, rt.stopping, fault.seconds)
        return answer
    return rt.venue.answer(kind, request, retry_after=1)


async def _apply_fault(rt: Runtime, request: web.Request) -> web.StreamResponse | None:
    """The fault's answer, or None to answer normally (no fault, or a released ``hold``)."""
    fault = rt.faults.take(request.path, private=rt.venue.is_private(request.path))
    if fault is None:
        return None
    if fault.kind == "hold":
        logger.info("sandbox fault hold on %s: held until released", request.path)
        await rt.faults.hold(request.method, request.raw_path, rt.stopping)
        return None
    return await _fault_answer(rt, request, fault)


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The server's clock, latency, faults, the venue's 404/405 answers, and the request log (not
    control or WS requests).

    Everything a request runs, a WebSocket session included, reads the time from this sandbox's
    :class:`~keyfolio.sandbox.core.clock.Clock` (offset by ``POST /__sandbox__/clock``).

    A logged request also carries the venue's own fields (:meth:`Venue.log_fields`, e.g.
    Kraken's nonce) and ``concurrent``: how many other requests with the same API key were in
    flight when it arrived (left out when none), so a test can tell that a client serialises
    its calls per key without looking at a clock.
    """
    rt = request.app[RUNTIME]
    with serving(rt.clock):
        return await _serve(rt, request, handler)


async def _serve(rt: Runtime, request: web.Request, handler: Handler) -> web.StreamResponse:
    is_control = request.path.startswith(CONTROL_PREFIX)
    key = None if is_control else rt.venue.request_key(request)
    concurrent = rt.inflight.get(key, 0) if key else 0
    if key:
        rt.inflight[key] = concurrent + 1
    try:
        if rt.latency_ms and not is_control:
            await asyncio.sleep(rt.latency_ms / 1000)
        faulted = None if is_control else await _apply_fault(rt, request)
        response = faulted if faulted is not None else await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or is_control:
            raise
        kind = "bad_method" if exc.status == 405 else "not_found"
        response = rt.venue.answer(kind, request)
    finally:
        if key:
            rt.inflight[key] -= 1
    if not is_control and LOG_CODE in response:
        extra = dict(rt.venue.log_fields(request))
        if concurrent:
            extra["concurrent"] = concurrent
        rt.record(request.method, request.raw_path, key, response[LOG_CODE], response.status, extra)
    return response
