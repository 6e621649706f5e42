"""``create_app(settings)``: the FastAPI app behind `keyfolio serve`.

Nothing happens at import time, and :func:`create_app` only wires routes: the database is
opened on the first request, the vault when a route needs it. The lifespan starts the live
engine (or the polling sync) and the vault's idle re-lock watcher
(:mod:`keyfolio.api.vault_session`) and, on shutdown, stops the watcher, ends the event
streams, then the background tasks.

The JSON API lives under ``/api/v1``; the dashboard's pages (``keyfolio.web.pages``) and
``/static`` are mounted when the web package provides them. ``/docs`` is a plain,
script-free page generated from the OpenAPI schema (``/openapi.json``): the strict
Content-Security-Policy rules out the CDN-hosted Swagger UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import html
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from keyfolio import __version__
from keyfolio.api import accounts, analytics, events, meta, portfolios, tasks
from keyfolio.api.deps import ServerState
from keyfolio.api.errors import install_error_handlers
from keyfolio.api.models import ErrorOut
from keyfolio.api.security import SecurityMiddleware
from keyfolio.api.vault_session import Clock
from keyfolio.config import Settings
from keyfolio.logging import register_secret

__all__ = ["API_PREFIX", "create_app"]

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

_ERRORS = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        400: "the request or the credentials were refused",
        401: "a token is required",
        404: "no such portfolio, account or task",
        409: "conflicts with what is stored",
        422: "the request does not validate",
        423: "the vault is locked",
        500: "a keyfolio bug",
        502: "the exchange failed",
        503: "the server cannot store: its data directory, or the database is locked",
        507: "the server's disk is full",
    }.items()
}


@asynccontextmanager
async def _lifespan(api: FastAPI) -> AsyncIterator[None]:
    state: ServerState = api.state.keyfolio
    state.streams.reopen()
    relay = None
    if state.settings.is_hosted:  # the workers' events, from Redis to this server's streams
        from keyfolio.services.hosted_events import EventRelay

        relay = EventRelay(state.settings, state.app.bus, receive=True)
        await asyncio.to_thread(relay.start)
    await state.live.start()
    relocker = asyncio.get_running_loop().create_task(state.vault.watch(), name="keyfolio-relock")
    # Everything imported and built so far lives as long as the server: take it out of the
    # garbage collector's generations, so a collection after a request only scans what the
    # request made (bench/api.py: the summary's p95 drops from ~70 ms to ~40 ms).
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        relocker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relocker
        state.streams.close_all()
        await state.live.stop()
        await state.tasks.cancel_all()
        if relay is not None:
            await asyncio.to_thread(relay.close)
        state.app.close()  # the database's pooled connections (a server's, on PostgreSQL)


def _docs_page(api: FastAPI) -> str:
    schema = api.openapi()
    rows = []
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            summary = operation.get("summary", "")
            description = operation.get("description", "")
            rows.append(
                f"<tr><td><code>{html.escape(method.upper())}</code></td>"
                f"<td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(summary)}<br><small>{html.escape(description)}</small></td></tr>"
            )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>keyfolio API {html.escape(__version__)}</title></head><body>"
        f"<h1>keyfolio API {html.escape(__version__)}</h1>"
        "<p>The machine-readable schema is <a href='/openapi.json'>/openapi.json</a>. "
        'Errors are <code>{"error", "message", "hint"}</code>.</p>'
        "<table><thead><tr><th>method</th><th>path</th><th>what</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>"
    )


def _mount_web(api: FastAPI) -> None:
    from fastapi.staticfiles import StaticFiles

    from keyfolio.web.pages import STATIC_DIR
    from keyfolio.web.pages import router as pages_router

    api.include_router(pages_router)
    api.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def create_app(
    settings: Settings,
    *,
    token: str | None = None,
    password: str | None = None,
    live: bool = True,
    require_https: bool = False,
    clock: Clock = time.monotonic,
) -> FastAPI:
    """The FastAPI application.

    ``token`` (default: ``settings.api_token``) turns on bearer authentication for ``/api/``;
    ``password`` unlocks the vault at start (``KEYFOLIO_PASSWORD`` also does; the idle re-lock
    forgets a password given here, see :mod:`keyfolio.api.vault_session`); ``live=False`` polls
    instead of running the live engine; ``require_https`` refuses every request that did not
    arrive over HTTPS (``--behind-proxy``: as the proxy's ``X-Forwarded-Proto`` says);
    ``clock`` is the idle re-lock's clock (tests).
    """
    if token is None and settings.api_token is not None:
        token = settings.api_token.get_secret_value() or None
    if token:
        register_secret(token)
    api = FastAPI(
        title="keyfolio",
        version=__version__,
        summary="Local JSON API of keyfolio: portfolios, accounts, sync, values, P&L, events.",
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
    )
    api.state.keyfolio = ServerState(
        settings, password=password, token=token, live=live, clock=clock
    )
    install_error_handlers(api)
    api.add_middleware(SecurityMiddleware, token=token, require_https=require_https)

    v1 = APIRouter(prefix=API_PREFIX, responses=_ERRORS)  # type: ignore[arg-type]
    for module in (meta, portfolios, accounts, tasks, analytics, events):
        v1.include_router(module.router)
    api.include_router(v1)

    @api.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(_docs_page(request.app))

    _mount_web(api)
    return api
