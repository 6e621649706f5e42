"""`keyfolio sandbox`: run the built-in exchange sandbox (OKX, Binance, ...) on loopback."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keyfolio.errors import ConfigError

if TYPE_CHECKING:
    from keyfolio.sandbox.core.venue import Venue

__all__ = ["sandbox_command"]


def _is_loopback(host: str) -> bool:
    from keyfolio.sandbox.core.control import is_loopback

    return host == "localhost" or is_loopback(host)


def _load(exchange: str | None, state: Path | None) -> tuple[Any, Venue]:
    """The state to serve and its venue: the file's, or the exchange's demo (key printed)."""
    from keyfolio.sandbox.venues import load_state, venue, venue_of

    if state is not None:
        loaded = load_state(state)
        played = venue_of(loaded)
        if exchange is not None and exchange != played.id:
            raise ConfigError(
                f"{state} is a {played.id} state, but --exchange {exchange} was given",
                hint=f'Drop --exchange, or set "exchange": "{exchange}" in the state file.',
            )
    else:
        played = venue(exchange or "okx")
        loaded = played.demo_state()
        key = played.demo_key()
        print(
            f"No --state: serving the {played.name} demo state. Its read-only key (public demo "
            "values):\n"
            + "\n".join(f"  KEYFOLIO_API_{env}={key[field]}" for env, field in played.key_env),
            file=sys.stderr,
            flush=True,
        )
    return loaded, played


def sandbox_command(
    exchange: Annotated[
        str | None,
        typer.Option(
            "--exchange",
            help="Which exchange the server plays (okx, binance, ...; an unknown id lists them "
            'all). Default: the state file\'s "exchange", else okx.',
            show_default=False,
        ),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help="JSON state file (format: docs/sandbox.md). Default: the exchange's demo "
            "state, with its read-only key printed at start.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind (loopback only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8765,
    region: Annotated[
        str, typer.Option(help="Which region the server plays (OKX: global, eea or us).")
    ] = "global",
    latency_ms: Annotated[
        int, typer.Option("--latency-ms", help="Delay every response by N ms.")
    ] = 0,
    no_rate_limit: Annotated[
        bool, typer.Option("--no-rate-limit", help="Turn off the exchange's rate limits.")
    ] = False,
    ip_limit_scale: Annotated[
        float,
        typer.Option(
            "--ip-limit-scale",
            help="Multiply the exchange's per-IP limits by this (0.1: a tenth), to reach "
            "them with a few accounts; per-key limits stay.",
        ),
    ] = 1.0,
) -> None:
    """Run an exchange look-alike (REST + WebSocket) on loopback (its demo account by default).

    Prints `keyfolio sandbox listening on http://HOST:PORT` when ready; stops on Ctrl-C or SIGTERM.
    Point ccxt or the exchange's own SDK at that URL with any key from the state file, or link
    it: `keyfolio account add binance --name demo --api-url http://HOST:PORT`.
    """
    from keyfolio.sandbox.core.server import serve
    from keyfolio.sandbox.venues import VENUE_IDS

    if exchange is not None and exchange not in VENUE_IDS:
        raise ConfigError(
            f"--exchange {exchange!r} is not a sandbox exchange",
            hint=f"Use one of {', '.join(VENUE_IDS)}.",
        )
    if not 0 <= port <= 65535:
        raise ConfigError(
            f"--port {port} is not a TCP port", hint="Use 1-65535, or 0 for any free port."
        )
    if not _is_loopback(host):
        raise ConfigError(
            f"--host {host} is not a loopback address",
            hint="The sandbox only listens on this machine: use 127.0.0.1, ::1 or localhost.",
        )
    if latency_ms < 0:
        raise ConfigError("--latency-ms must be 0 or more", hint="Use e.g. --latency-ms 50.")
    if not 0 < ip_limit_scale <= 1000:
        raise ConfigError(
            f"--ip-limit-scale {ip_limit_scale} is out of range",
            hint="Use a factor above 0 (and at most 1000), e.g. --ip-limit-scale 0.1.",
        )
    loaded, played = _load(exchange, state)
    if region not in played.regions:
        raise ConfigError(
            f"--region {region!r} is not a region {played.name} has here",
            hint=f"Use --region {' or '.join(played.regions)}.",
        )

    def ready(url: str) -> None:
        print(f"keyfolio sandbox listening on {url}", flush=True)

    async def main() -> None:
        task = asyncio.ensure_future(
            serve(
                loaded,
                host=host,
                port=port,
                region=region,
                latency_ms=latency_ms,
                rate_limit=not no_rate_limit,
                ip_limit_scale=ip_limit_scale,
                on_ready=ready,
            )
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    try:
        asyncio.run(main())
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="Another program may be using that port: choose another --port, or --port 0.",
        ) from exc
    print("keyfolio sandbox stopped", file=sys.stderr, flush=True)
