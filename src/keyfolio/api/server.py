"""Run the API with uvicorn: in the foreground (`keyfolio serve`) or in a thread (tests, bench).

```python
with ServerThread(settings, password="...") as server:
    httpx.get(server.url + "/api/v1/health")
```

Both refuse a non-loopback host without a token or without HTTPS
(:func:`keyfolio.api.security.check_bind`). :class:`TlsConfig` is the certificate and key of
``--tls-cert``/``--tls-key`` (checked by :meth:`TlsConfig.load` before anything listens), handed
to uvicorn's ssl options; the pre-bound socket then speaks TLS. :class:`ProxyConfig` is
``--behind-proxy``: uvicorn honours ``X-Forwarded-Proto``/``-For`` only from the proxy's own
addresses, and every request must have come over HTTPS. uvicorn's own loggers propagate to
the root logger, where keyfolio's redaction filter sits. The access log (one line per request:
method, path, status, never a body) is off unless `keyfolio --debug serve`: the dashboard
polls, and those lines would fill the log file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from keyfolio.api.security import check_bind
from keyfolio.errors import ConfigError, UsageError

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from keyfolio.api.vault_session import Clock
    from keyfolio.config import Settings

__all__ = [
    "DEFAULT_PROXY_IPS",
    "ProxyConfig",
    "ServerThread",
    "SigintStop",
    "TlsConfig",
    "bind_socket",
    "build_server",
    "run_server",
    "server_url",
]

logger = logging.getLogger(__name__)

_GRACEFUL_SECONDS = 3

DEFAULT_PROXY_IPS = ("127.0.0.1", "::1")
"""Where a reverse proxy on the same machine connects from."""


class _EncryptedKeyError(Exception):
    pass


def _no_password() -> str:
    raise _EncryptedKeyError  # OpenSSL would otherwise prompt on the terminal


@dataclass(frozen=True)
class TlsConfig:
    """A PEM certificate (chain) and its unencrypted PEM private key, for uvicorn's ssl options."""

    cert: Path
    key: Path

    @classmethod
    def from_options(cls, cert: Path | None, key: Path | None) -> TlsConfig | None:
        """``--tls-cert``/``--tls-key`` (both or neither), checked: None without them."""
        if cert is None and key is None:
            return None
        if cert is None or key is None:
            given, missing = (
                ("--tls-cert", "--tls-key") if key is None else ("--tls-key", "--tls-cert")
            )
            raise UsageError(
                f"{given} needs {missing}",
                hint="Give both: --tls-cert FILE (the PEM certificate, with its chain) and "
                "--tls-key FILE (its PEM private key).",
            )
        tls = cls(cert.expanduser(), key.expanduser())
        tls.load()
        return tls

    def load(self) -> ssl.SSLContext:
        """A server SSL context from the two files; ConfigError saying what is wrong with which."""
        cert_text = _read_pem(self.cert, "certificate", "--tls-cert")
        key_text = _read_pem(self.key, "private key", "--tls-key")
        if "-----BEGIN CERTIFICATE-----" not in cert_text:
            raise ConfigError(
                f"the TLS certificate {self.cert} holds no PEM certificate",
                hint="--tls-cert takes the certificate in PEM form (-----BEGIN CERTIFICATE-----), "
                "e.g. fullchain.pem from Let's Encrypt; the key goes to --tls-key.",
            )
        if "ENCRYPTED" in key_text:
            raise ConfigError(
                f"the TLS key {self.key} is encrypted with a passphrase",
                hint="keyfolio takes an unencrypted key file readable only by you: "
                f"`openssl pkey -in {self.key} -out plain.key && chmod 600 plain.key`.",
            )
        if "PRIVATE KEY-----" not in key_text:
            raise ConfigError(
                f"the TLS key {self.key} holds no PEM private key",
                hint="--tls-key takes the private key in PEM form (-----BEGIN PRIVATE KEY-----), "
                "e.g. privkey.pem from Let's Encrypt.",
            )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(self.cert, self.key, _no_password)
        except _EncryptedKeyError:
            raise ConfigError(
                f"the TLS key {self.key} is encrypted with a passphrase",
                hint=f"Decrypt it: `openssl pkey -in {self.key} -out plain.key`.",
            ) from None
        except ssl.SSLError as exc:
            if exc.reason == "KEY_VALUES_MISMATCH":
                raise ConfigError(
                    f"the TLS key {self.key} does not belong to the certificate {self.cert}",
                    hint="Give the private key that the certificate was issued for (with Let's "
                    "Encrypt: fullchain.pem and privkey.pem of the same directory).",
                ) from None
            raise ConfigError(
                f"the TLS certificate {self.cert} or key {self.key} cannot be used: {exc}",
                hint="Both must be PEM files: the certificate (and chain) in --tls-cert, its "
                "private key in --tls-key.",
            ) from None
        _warn_if_exposed(self.key)
        return context

    def uvicorn_options(self) -> dict[str, Any]:
        return {"ssl_certfile": str(self.cert), "ssl_keyfile": str(self.key)}


def _read_pem(path: Path, what: str, option: str) -> str:
    try:
        return path.read_bytes().decode("ascii", errors="replace")
    except FileNotFoundError:
        raise ConfigError(
            f"the TLS {what} {path} does not exist",
            hint=f"Check the path given to {option}.",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read the TLS {what} {path}: {exc.strerror or exc}",
            hint=f"{option} must name a file that the user running keyfolio can read "
            "(for the key: yours, with mode 0600).",
        ) from None


def _warn_if_exposed(key: Path) -> None:
    try:
        mode = stat.S_IMODE(key.stat().st_mode)
    except OSError:
        return
    if os.name == "posix" and mode & 0o077:
        logger.warning(
            "the TLS key %s has mode %o: other users can read it; run `chmod 600` on it", key, mode
        )


@dataclass(frozen=True)
class ProxyConfig:
    """``--behind-proxy``: a TLS-terminating reverse proxy connects from ``trusted`` addresses.

    Only from those does uvicorn take the client's scheme and address from
    ``X-Forwarded-Proto``/``X-Forwarded-For``; every request must then say ``https``.
    """

    trusted: tuple[str, ...] = DEFAULT_PROXY_IPS

    def uvicorn_options(self) -> dict[str, Any]:
        return {"proxy_headers": True, "forwarded_allow_ips": list(self.trusted)}


def server_url(host: str, port: int, *, tls: bool = False) -> str:
    """``http://127.0.0.1:8420`` (``https://`` with ``tls``; IPv6 in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def build_server(
    api: FastAPI,
    *,
    host: str,
    port: int,
    access_log: bool = False,
    tls: TlsConfig | None = None,
    proxy: ProxyConfig | None = None,
) -> uvicorn.Server:
    """A uvicorn server for ``api`` that installs no logging config of its own.

    ``access_log`` logs one line per request (`keyfolio --debug serve` turns it on).
    """
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
        **(proxy.uvicorn_options() if proxy else {"proxy_headers": False}),
        **(tls.uvicorn_options() if tls else {}),
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

    Keyword arguments: ``host``, ``port`` (0 picks a free one), ``token``, ``password``
    (unlocks the vault), ``live`` (False: poll instead of running the live engine), ``tls``,
    ``proxy`` and ``clock`` (the vault's idle clock, see :mod:`keyfolio.api.vault_session`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        password: str | None = None,
        live: bool = True,
        tls: TlsConfig | None = None,
        proxy: ProxyConfig | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        from keyfolio.api.app import create_app

        effective = token or (
            settings.api_token.get_secret_value() if settings.api_token is not None else None
        )
        check_bind(host, effective, tls=tls is not None, behind_proxy=proxy is not None)
        self.api = create_app(
            settings,
            token=token,
            password=password,
            live=live,
            require_https=proxy is not None,
            clock=clock,
        )
        self._server = build_server(
            self.api, host=host, port=port, access_log=False, tls=tls, proxy=proxy
        )
        self._tls = tls is not None
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
        except BaseException as exc:  # a thread's end: handed to start(), logged if later
            self._error = exc
            if self._url is not None:
                logger.error("the API server thread failed", exc_info=exc)
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        serving = asyncio.create_task(self._server.serve())
        while not self._server.started and not serving.done():  # noqa: ASYNC110 - a bare flag
            await asyncio.sleep(0.005)
        if self._server.started:
            self._url = server_url(self._host, _bound_port(self._server), tls=self._tls)
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
