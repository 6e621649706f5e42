"""Start a sandbox of any venue: REST and WebSocket on one aiohttp server.

Three ways in:

* :func:`run_sandbox` -- ``async with run_sandbox(state) as url:`` in a running loop;
* :func:`serve` -- runs until cancelled (the ``keyfolio sandbox`` command);
* :class:`SandboxThread` -- ``with SandboxThread(state) as sb: sb.url`` for sync code
  (official SDKs, benchmarks): the server runs on its own loop in a background thread.

The venue comes from the state (``"exchange"``; OKX's own format when absent).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

from aiohttp import web

from keyfolio.sandbox.core import control
from keyfolio.sandbox.core.http import middleware
from keyfolio.sandbox.core.limits import RateLimiter
from keyfolio.sandbox.core.runtime import RUNTIME, Runtime
from keyfolio.sandbox.venues import venue_of

__all__ = ["SandboxThread", "build_app", "run_sandbox", "serve"]

logger = logging.getLogger(__name__)

_SHUTDOWN_TIMEOUT = 2.0


def build_app(runtime: Runtime) -> web.Application:
    """The aiohttp application serving ``runtime``: the venue's routes and the control API."""
    app = web.Application(middlewares=[middleware])
    app[RUNTIME] = runtime
    runtime.venue.register(app)
    control.register(app.router, runtime.venue.control_routes())

    async def on_shutdown(app: web.Application) -> None:
        rt = app[RUNTIME]
        rt.stopping.set()  # releases requests held by the "timeout" fault
        await rt.hub.close_all()

    app.on_shutdown.append(on_shutdown)
    return app


def _url(host: str, port: int, *, tls: bool = False) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


@asynccontextmanager
async def run_sandbox(
    state: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    region: str = "global",
    latency_ms: int = 0,
    rate_limit: bool = True,
    ip_limit_scale: float = 1.0,
    ws_idle_timeout: float = 30.0,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[str]:
    """Serve ``state`` on ``host:port`` (0 picks a free port) and yield the base URL.

    ``region`` is the server's region (keys of another region fail as the venue says),
    ``latency_ms`` delays every API response, ``rate_limit=False`` turns the venue's limits off,
    ``ip_limit_scale`` multiplies every per-IP limit (0.1: a tenth of the venue's), and
    ``ws_idle_timeout`` closes WebSockets without a subscription after that many seconds.
    ``ssl_context`` serves HTTPS (for a client that only speaks HTTPS, such as Coinbase's SDK).
    The state object is not modified; the server works on its own books.
    """
    venue = venue_of(state)
    if region not in venue.regions:
        raise ValueError(f"region must be one of {', '.join(venue.regions)}, not {region!r}")
    if latency_ms < 0:
        raise ValueError("latency_ms must not be negative")
    if not 0 < ip_limit_scale <= 1000:
        raise ValueError("ip_limit_scale must be more than 0 and at most 1000")
    runtime = Runtime(
        venue=venue,
        book=venue.build_book(state),
        region=region,
        latency_ms=latency_ms,
        rate_limit=rate_limit,
        ws_idle_timeout=ws_idle_timeout,
        limiter=RateLimiter(ip_scale=ip_limit_scale),
    )
    runner = web.AppRunner(build_app(runtime), access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True, ssl_context=ssl_context)
        await site.start()
        url = _url(host, int(runner.addresses[0][1]), tls=ssl_context is not None)
        logger.info("%s sandbox listening on %s (region %s)", venue.name, url, region)
        yield url
    finally:
        runtime.stopping.set()
        server = runner.server
        held = [conn.transport for conn in (server.connections if server else [])]
        await runner.cleanup()
        # A TLS connection closed by the server waits for the client's close_notify, which
        # clients rarely send: end it now rather than leave its socket to the closed loop.
        for transport in held:
            if transport is not None:
                transport.abort()
        logger.info("sandbox stopped")


async def serve(
    state: Any,
    *,
    host: str,
    port: int,
    region: str,
    latency_ms: int,
    rate_limit: bool,
    on_ready: Callable[[str], None],
    ws_idle_timeout: float = 30.0,
    ip_limit_scale: float = 1.0,
) -> None:
    """Run the sandbox until cancelled; ``on_ready(url)`` is called once it listens."""
    async with run_sandbox(
        state,
        host=host,
        port=port,
        region=region,
        latency_ms=latency_ms,
        rate_limit=rate_limit,
        ip_limit_scale=ip_limit_scale,
        ws_idle_timeout=ws_idle_timeout,
    ) as url:
        on_ready(url)
        await asyncio.Event().wait()


class SandboxThread:
    """Run a sandbox on its own event loop in a daemon thread; for synchronous callers.

    ``with SandboxThread(state, latency_ms=5) as sandbox: httpx.get(sandbox.url + ...)``.
    Keyword arguments are those of :func:`run_sandbox`.
    """

    def __init__(self, state: Any, **options: Any) -> None:
        self._state = state
        self._options = options
        self._url: str | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="keyfolio-sandbox", daemon=True)

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._url is None:
            raise RuntimeError("the sandbox thread is not running")
        return self._url

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with run_sandbox(self._state, **self._options) as url:
                self._url = url
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()

    def start(self) -> str:
        """Start the server and wait until it listens; returns the URL."""
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self.url

    def stop(self) -> None:
        """Stop the server and wait for the thread to end."""
        if self._thread.ident is None:  # never started
            return
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self._url = None

    def __enter__(self) -> SandboxThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
