"""`keyfolio serve`: the local dashboard and JSON API."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Annotated

import typer

from keyfolio.cli._context import console, err_console, prompt_secret, state
from keyfolio.errors import UsageError

if TYPE_CHECKING:
    import uvicorn

    from keyfolio.config import Settings

__all__ = ["serve_command"]


def _start_password(settings: Settings) -> str | None:
    """KEYFOLIO_PASSWORD, else (in a terminal, with a vault) a prompt; None starts locked."""
    from keyfolio.logging import register_secret

    value = os.environ.get("KEYFOLIO_PASSWORD")
    if value:
        register_secret(value)
        return value
    if not settings.vault_path.exists() or not sys.stdin.isatty():
        return None
    value = str(
        typer.prompt(
            "Vault password (Enter to start locked; unlock later in the dashboard)",
            default="",
            show_default=False,
            hide_input=True,
            err=True,
        )
    )
    if value:
        register_secret(value)
    return value or None


def _open_when_ready(server: uvicorn.Server, url: str) -> None:
    import webbrowser

    def wait_and_open() -> None:
        for _ in range(200):
            if server.started:
                webbrowser.open(url)
                return
            time.sleep(0.05)

    threading.Thread(target=wait_and_open, name="keyfolio-open", daemon=True).start()


def _token(settings: Settings, *, ask: bool) -> str | None:
    """The API token: a hidden prompt with --token, else KEYFOLIO_API_TOKEN (never argv)."""
    if ask:
        return prompt_secret("API token", "KEYFOLIO_API_TOKEN").strip() or None
    configured = settings.api_token
    if configured is None:
        return None
    return configured.get_secret_value().strip() or None


def serve_command(
    host: Annotated[
        str,
        typer.Option(help="Address to bind. Anything but loopback needs a token."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8420,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the dashboard in the default browser.")
    ] = False,
    ask_token: Annotated[
        bool,
        typer.Option(
            "--token",
            help="Ask for an API token with a hidden prompt (or set KEYFOLIO_API_TOKEN); every "
            "API request then needs `Authorization: Bearer TOKEN`. Needed off loopback.",
        ),
    ] = False,
    poll_seconds: Annotated[
        float | None,
        typer.Option(
            "--poll-seconds",
            help="Sync interval when not live (default 60, or KEYFOLIO_POLL_SECONDS).",
            show_default=False,
        ),
    ] = None,
    no_live: Annotated[
        bool, typer.Option("--no-live", help="Poll instead of running the live engine.")
    ] = False,
) -> None:
    """Serve the dashboard and the JSON API (/api/v1, docs at /docs) on this machine.

    The vault opens with KEYFOLIO_PASSWORD, a prompt at start, or the dashboard's Unlock page.
    While it is locked, the portfolio, history and P&L still show.
    """
    from keyfolio.api.app import create_app
    from keyfolio.api.security import check_bind
    from keyfolio.api.server import SigintStop, bind_socket, build_server, run_server
    from keyfolio.logging import setup_logging

    if poll_seconds is not None and poll_seconds <= 0:
        raise UsageError(
            f"--poll-seconds must be positive, not {poll_seconds}", hint="e.g. --poll-seconds 60"
        )
    settings = state.settings()
    if poll_seconds is not None:
        settings = settings.model_copy(update={"poll_seconds": poll_seconds})
    token = _token(settings, ask=ask_token)
    check_bind(host, token)
    settings.ensure_home()
    setup_logging(debug=state.debug, log_file=settings.log_path)
    password = _start_password(settings)
    sock = bind_socket(host, port)
    port = int(sock.getsockname()[1])
    api = create_app(settings, token=token, password=password, live=not no_live)
    server = build_server(api, host=host, port=port)
    stop = SigintStop(server)  # from here on, Ctrl-C ends in a clean shutdown and "Stopped."
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    console.print(f"keyfolio dashboard on [bold]{url}[/]  (API: {url}api/v1, docs: {url}docs)")
    if token:
        console.print("The API requires the token (Authorization: Bearer …).")
    if password is None:
        err_console.print("The vault is locked: unlock it on the dashboard's Unlock page.")
    console.print("Press Ctrl-C to stop.")
    if open_browser:
        _open_when_ready(server, url)
    try:
        run_server(server, sock, stop)
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down cleanly
        console.print("Stopped.")
        return
    if not server.started:
        raise UsageError(
            f"could not listen on {host}:{port} (see the log at {settings.log_path})",
            hint="The port may be taken: choose another with --port.",
        )
