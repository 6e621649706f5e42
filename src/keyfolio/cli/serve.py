"""`keyfolio serve`: the local dashboard and JSON API."""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keyfolio.cli._context import (
    console,
    err_console,
    password_from_file,
    prompt_secret,
    state,
)
from keyfolio.errors import UsageError

if TYPE_CHECKING:
    import uvicorn

    from keyfolio.api.server import ProxyConfig
    from keyfolio.config import Settings

__all__ = ["serve_command"]


def _start_password(*, has_vault: bool) -> str | None:
    """In a terminal, with a vault and without KEYFOLIO_PASSWORD (or KEYFOLIO_PASSWORD_FILE), a
    prompt; None starts locked.

    KEYFOLIO_PASSWORD and the file are read by the server itself (it re-opens the vault with
    them after an idle re-lock); a password typed here is forgotten at the first re-lock.
    """
    from keyfolio.logging import register_secret

    if os.environ.get("KEYFOLIO_PASSWORD") or password_from_file():
        return None
    if not has_vault or not sys.stdin.isatty():
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


def _print_vault_and_mode(settings: Settings, *, has_vault: bool, password: str | None) -> None:
    """How the vault opens, and who syncs (hosted mode: the workers)."""
    if password is None and not (os.environ.get("KEYFOLIO_PASSWORD") or password_from_file()):
        if has_vault:
            err_console.print("The vault is locked: unlock it on the dashboard's Unlock page.")
        else:
            err_console.print(
                "No vault yet: create it on the dashboard's Unlock page (choose its password), "
                "then link your first account."
            )
    if settings.is_hosted:
        console.print(
            "Hosted mode: `keyfolio worker` processes sync the accounts; their updates show "
            "here live."
        )


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


def _proxy(behind_proxy: bool, proxy_ips: list[str] | None) -> ProxyConfig | None:
    from keyfolio.api.server import DEFAULT_PROXY_IPS, ProxyConfig

    if not behind_proxy:
        if proxy_ips:
            raise UsageError(
                "--proxy-ip only applies with --behind-proxy",
                hint="Add --behind-proxy when a TLS-terminating reverse proxy is in front.",
            )
        return None
    trusted = []
    for value in proxy_ips or DEFAULT_PROXY_IPS:
        value = value.strip()
        try:
            if "/" in value:
                trusted.append(str(ipaddress.ip_network(value, strict=False)))
            else:
                trusted.append(str(ipaddress.ip_address(value)))
        except ValueError:
            raise UsageError(
                f"--proxy-ip {value!r} is not an IP address or network",
                hint="Give the address the proxy connects from, e.g. --proxy-ip 10.0.0.5 "
                "(repeat it for several).",
            ) from None
    return ProxyConfig(trusted=tuple(trusted))


def serve_command(
    host: Annotated[
        str,
        typer.Option(
            help="Address to bind. Anything but loopback needs a token and HTTPS (--tls-cert "
            "and --tls-key, or --behind-proxy)."
        ),
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
    tls_cert: Annotated[
        Path | None,
        typer.Option(
            "--tls-cert",
            metavar="FILE",
            help="Serve HTTPS with this PEM certificate (and chain); needs --tls-key.",
            show_default=False,
        ),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(
            "--tls-key",
            metavar="FILE",
            help="The certificate's unencrypted PEM private key (keep it mode 0600).",
            show_default=False,
        ),
    ] = None,
    behind_proxy: Annotated[
        bool,
        typer.Option(
            "--behind-proxy",
            help="A TLS-terminating reverse proxy (Caddy, nginx) is in front: needs a token; "
            "X-Forwarded-Proto/-For are honoured from --proxy-ip only, and every request must "
            "have arrived over HTTPS.",
        ),
    ] = False,
    proxy_ips: Annotated[
        list[str] | None,
        typer.Option(
            "--proxy-ip",
            metavar="ADDR",
            help="The address (or network) the proxy connects from; repeatable "
            "(default: 127.0.0.1 and ::1).",
            show_default=False,
        ),
    ] = None,
    idle_minutes: Annotated[
        float | None,
        typer.Option(
            "--vault-idle-minutes",
            min=0,
            help="Re-lock the vault after this many minutes without a use by you (default 15, "
            "or KEYFOLIO_VAULT_IDLE_MINUTES; 0: never).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the dashboard and the JSON API (/api/v1, docs at /docs) on this machine.

    The vault opens with KEYFOLIO_PASSWORD (or the file KEYFOLIO_PASSWORD_FILE
    names), a prompt at start, or the Unlock page. It re-locks after
    --vault-idle-minutes without a use by you: nothing syncs until you unlock it
    again (with KEYFOLIO_PASSWORD or the file the server re-opens it itself).
    While it is locked, the portfolio, its value series and P&L still show. In hosted mode
    (KEYFOLIO_BROKER_URL) the workers sync, locked or not: the vault is needed only
    to link, re-key or remove accounts.
    """
    from keyfolio.api.app import create_app
    from keyfolio.api.security import check_bind
    from keyfolio.api.server import (
        SigintStop,
        TlsConfig,
        bind_socket,
        build_server,
        run_server,
        server_url,
    )

    if poll_seconds is not None and poll_seconds <= 0:
        raise UsageError(
            f"--poll-seconds must be positive, not {poll_seconds}", hint="e.g. --poll-seconds 60"
        )
    settings = state.settings()
    if poll_seconds is not None:
        settings = replace(settings, poll_seconds=poll_seconds)
    if idle_minutes is not None:
        settings = replace(settings, vault_idle_minutes=idle_minutes)
    proxy = _proxy(behind_proxy, proxy_ips)
    tls = TlsConfig.from_options(tls_cert, tls_key)
    token = _token(settings, ask=ask_token)
    check_bind(host, token, tls=tls is not None, behind_proxy=proxy is not None)
    home = state.open_home(settings, check_database=True)
    try:
        has_vault = home.has_vault()  # in hosted mode the vault is in the shared database
    finally:
        home.close()
    password = _start_password(has_vault=has_vault)
    sock = bind_socket(host, port)
    port = int(sock.getsockname()[1])
    api = create_app(
        settings, token=token, password=password, live=not no_live, require_https=proxy is not None
    )
    server = build_server(api, host=host, port=port, access_log=state.debug, tls=tls, proxy=proxy)
    stop = SigintStop(server)  # from here on, Ctrl-C ends in a clean shutdown and "Stopped."
    url = server_url(host, port, tls=tls is not None) + "/"
    console.print(f"keyfolio dashboard on [bold]{url}[/]  (API: {url}api/v1, docs: {url}docs)")
    if proxy is not None:
        console.print(
            "Behind a proxy: open the proxy's https:// address. Only requests it forwards over "
            f"HTTPS from {', '.join(proxy.trusted)} are answered."
        )
    if token:
        console.print("The API requires the token (Authorization: Bearer …).")
    _print_vault_and_mode(settings, has_vault=has_vault, password=password)
    idle = settings.vault_idle_minutes
    if idle > 0:
        console.print(f"The vault re-locks after {idle:g} minutes without a use by you.")
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
