"""`keyfolio sandbox`: run the built-in OKX V5 sandbox server."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from keyfolio.errors import ConfigError

__all__ = ["sandbox_command"]

REGIONS = ("global", "eea", "us")


def _is_loopback(host: str) -> bool:
    from keyfolio.sandbox.control import is_loopback

    return host == "localhost" or is_loopback(host)


def sandbox_command(
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            help="JSON state file (format: docs/sandbox.md). Default: the demo's state, "
            "with its read-only key printed at start.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind (loopback only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 8765,
    region: Annotated[
        str, typer.Option(help="Which OKX region this server plays: global, eea or us.")
    ] = "global",
    latency_ms: Annotated[
        int, typer.Option("--latency-ms", help="Delay every response by N ms.")
    ] = 0,
    no_rate_limit: Annotated[
        bool, typer.Option("--no-rate-limit", help="Turn off OKX's per-key rate limits.")
    ] = False,
) -> None:
    """Run an OKX V5 look-alike (REST + WebSocket) on loopback (the demo account by default).

    Prints `keyfolio sandbox listening on http://HOST:PORT` when ready; stops on Ctrl-C or SIGTERM.
    Point ccxt or python-okx at that URL with any key from the state file, or link it:
    `keyfolio account add okx --name demo --api-url http://HOST:PORT`.
    """
    from keyfolio.sandbox.server import serve
    from keyfolio.sandbox.state import load_state

    if region not in REGIONS:
        raise ConfigError(
            f"--region {region!r} is not a region", hint="Use --region global, eea or us."
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
    if state is not None:
        loaded = load_state(state)
    else:
        from keyfolio.sandbox.demo import DEMO_READ_ONLY_KEY, demo_state

        loaded = demo_state()
        print(
            "No --state: serving the demo state. Its read-only key (public demo values):\n"
            + "".join(
                f"  KEYFOLIO_API_{env}={DEMO_READ_ONLY_KEY[field]}\n"
                for env, field in (("KEY", "apiKey"), ("SECRET", "secret"))
            )
            + f"  KEYFOLIO_API_PASSPHRASE={DEMO_READ_ONLY_KEY['passphrase']}",
            file=sys.stderr,
            flush=True,
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
