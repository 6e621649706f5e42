"""Run the API with uvicorn: in the foreground (`keyfolio serve`) or in a thread (tests, bench).

```python
with ServerThread(settings, password="...") as server:
    httpx.get(server.url + "/api/v1/health")
```

Both refuse a non-loopback host without a token (:func:`keyfolio.api.security.check_bind`).
uvicorn's own loggers propagate to the root logger, where keyfolio's redaction filter sits;
access log lines hold the method, path and status, never a body.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
from types import FrameType, TracebackType
from typing import TYPE_CHECKING

from keyfolio.api.security import check_bind
from keyfolio.errors import ConfigError

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from keyfolio.config import Settings
    from keyfolio.services.context import App

__all__ = ["ServerThread", "SigintStop", "bind_socket", "build_server", "run_server"]

_GRACEFUL_SECONDS = 3


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def build_server(api: FastAPI, *, host: str, port: int, access_log: bool = True) -> uvicorn.Server:
    """A uvicorn server for ``api`` that installs no logging config of its own."""
    import uvicorn

    config = uvicorn.Config(
        api,
        host=host,
        port=port,
        log_config=None,
        access_log=access_log,
        lifespan="on",
        timeout_graceful_shutdown=_GRACEFUL_SECONDS,
        server_header=False,
        proxy_headers=False,
    )
    return uvicorn.Server(config)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: a free port), or ConfigError with a hint.

    Bound before uvicorn starts, so a taken port is reported the keyfolio way and the real
    port of ``--port 0`` is known before the address is printed.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="Another program may be using that port: choose another with --port "
            "(or --port 0 for any free one).",
        ) from None
    sock.set_inheritable(True)
    return sock


class SigintStop:
    """From its creation on, Ctrl-C (SIGINT) stops a foreground server cleanly.

    Before uvicorn runs, the signal only marks the server to exit: it starts, skips serving
    and shuts down (nothing is interrupted half-way, the socket is closed). While it runs,
    uvicorn catches the signal, shuts down, then raises it again under this handler. Either
    way :func:`run_server` ends with ``KeyboardInterrupt``, also in a process started with
    SIGINT ignored (a background job of a script, as CI may run it), which would otherwise
    make uvicorn's re-raised signal vanish and `serve` stop without a word.
    """

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.received = False
        self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = True
        if self.server.should_exit:
            self.server.force_exit = True  # a second Ctrl-C: do not wait for connections
        self.server.should_exit = True

    def restore(self) -> None:
        """Put the previous SIGINT handler back."""
        signal.signal(signal.SIGINT, self._previous)


def run_server(
    server: uvicorn.Server, sock: socket.socket | None = None, stop: SigintStop | None = None
) -> None:
    """Serve in the foreground; after a clean shutdown on Ctrl-C, raise ``KeyboardInterrupt``.

    ``stop`` is the :class:`SigintStop` made before the address was printed (one is made
    here otherwise). ``sock`` is closed on the way out, however serving ended.
    """
    stop = stop if stop is not None else SigintStop(server)
    try:
        server.run(sockets=[sock] if sock is not None else None)
    finally:
        stop.restore()
        if sock is not None:
            sock.close()
    if stop.received:
        raise KeyboardInterrupt


def _bound_port(server: uvicorn.Server) -> int:
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("uvicorn is not listening")


class ServerThread:
    """The API on uvicorn in a daemon thread; ``.url`` once started; stops cleanly.

    Keyword arguments: ``app`` (a services context to share with the caller), ``host``,
    ``port`` (0 picks a free one), ``token``, ``password`` (unlocks the vault) and ``live``
    (False: poll instead of running the live engine).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        app: App | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        password: str | None = None,
        live: bool = True,
    ) -> None:
        from keyfolio.api.app import create_app

        effective = token or (
            settings.api_token.get_secret_value() if settings.api_token is not None else None
        )
        check_bind(host, effective)
        self.api = create_app(settings, app=app, token=token, password=password, live=live)
        self._server = build_server(self.api, host=host, port=port, access_log=False)
        self._host = host
        self._url: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="keyfolio-api", daemon=True)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        if self._url is None:
            raise RuntimeError("the API server thread is not running")
        return self._url

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        serving = asyncio.create_task(self._server.serve())
        while not self._server.started and not serving.done():  # noqa: ASYNC110 - a bare flag
            await asyncio.sleep(0.005)
        if self._server.started:
            self._url = _url(self._host, _bound_port(self._server))
        self._ready.set()
        await serving

    def start(self) -> str:
        """Start serving and wait until it listens; returns the URL."""
        self._thread.start()
        self._ready.wait()
        if self._url is None:
            self._thread.join()
            raise self._error or RuntimeError("the API server did not start")
        return self._url

    def stop(self) -> None:
        """End the event streams, stop uvicorn and wait for the thread."""
        if self._thread.ident is None:
            return
        loop = self._loop
        if loop is not None and self._thread.is_alive() and not loop.is_closed():
            loop.call_soon_threadsafe(self.api.state.keyfolio.streams.close_all)
        self._server.should_exit = True
        self._thread.join()
        self._url = None

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
