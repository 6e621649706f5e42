"""Network exposure: the bearer token, the bind check, HTTPS, security headers, Host and Origin.

* Loopback without a token: no authentication, but the ``Host`` header must name the loopback
  (a DNS-rebinding page cannot reach the API through a name of its own).
* A token (``--token`` / ``KEYFOLIO_API_TOKEN``): every ``/api/`` request needs
  ``Authorization: Bearer TOKEN``, compared in constant time. ``EventSource`` cannot send
  headers, so ``GET /api/v1/events`` also accepts ``?token=TOKEN``.
* A non-loopback bind address needs a token *and* HTTPS: ``--tls-cert``/``--tls-key``, or
  ``--behind-proxy`` for a TLS-terminating reverse proxy (:func:`check_bind`). Behind a proxy
  the token is required whatever the address, and every request must have arrived over HTTPS:
  uvicorn takes the scheme and client address from ``X-Forwarded-Proto``/``-For`` only when the
  connection comes from the proxy's own address (``--proxy-ip``), and
  :class:`SecurityMiddleware` (``require_https``) refuses anything else with 403.
* Every response carries strict security headers, plus HSTS over HTTPS; there is no CORS, and
  a state-changing request from another origin is refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyfolio.api.errors import error_body
from keyfolio.errors import ConfigError

__all__ = ["SECURITY_HEADERS", "SecurityMiddleware", "check_bind", "is_loopback_host"]

SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
"""Sent on every response, pages and API alike."""

_LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_EVENTS_PATH = "/api/v1/events"


def is_loopback_host(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost`` and the rest of 127.0.0.0/8."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


MIN_TOKEN_LENGTH = 16
_HOW_TO_SET_A_TOKEN = (
    "set a long random token with --token (a hidden prompt) or KEYFOLIO_API_TOKEN (e.g. "  # noqa: S105
    "`export KEYFOLIO_API_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')`)"
    "; every API request then needs `Authorization: Bearer TOKEN`."
)


_HTTPS = (
    "serve HTTPS, so that the token, the vault password and exchange secrets never cross the "
    "network in clear: give a certificate and its key with --tls-cert FILE --tls-key FILE, or "
    "put a TLS-terminating reverse proxy in front and add --behind-proxy (docs/dashboard.md "
    "shows Caddy and nginx setups)."
)


def check_bind(
    host: str, token: str | None, *, tls: bool = False, behind_proxy: bool = False
) -> None:
    """Refuse a short token, a proxy setup without a token, and a non-loopback address
    without a token or without HTTPS (``tls``: a certificate; ``behind_proxy``: a proxy's)."""
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"the API token is only {len(token)} characters long",
            hint=f"Use at least {MIN_TOKEN_LENGTH}: {_HOW_TO_SET_A_TOKEN}",
        )
    if behind_proxy and not token:
        raise ConfigError(
            "refusing to serve --behind-proxy without an API token: the proxy makes the API "
            "reachable from other machines",
            hint=f"Set a token: {_HOW_TO_SET_A_TOKEN}",
        )
    if is_loopback_host(host):
        return
    missing = ([] if token else ["no API token is set"]) + (
        [] if tls or behind_proxy else ["it would speak plain HTTP"]
    )
    if not missing:
        return
    hints = ([] if token else [_HOW_TO_SET_A_TOKEN]) + ([] if tls or behind_proxy else [_HTTPS])
    raise ConfigError(
        f"refusing to serve on {host}: it is reachable from other machines and "
        + " and ".join(missing),
        hint="Keep the default --host 127.0.0.1, or: " + " And: ".join(hints),
    )


_HSTS = (b"strict-transport-security", b"max-age=31536000")


def _security_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """:data:`SECURITY_HEADERS`, plus HSTS when the request came over HTTPS."""
    headers = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
    if scope.get("scheme") == "https":
        headers.append(_HSTS)
    return headers


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class SecurityMiddleware:
    """Pure ASGI middleware (streams, such as SSE, pass through untouched)."""

    def __init__(self, app: ASGIApp, *, token: str | None, require_https: bool = False) -> None:
        self.app = app
        self._token = token.encode() if token else None
        self._require_https = require_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await self._reject(scope, send, *refusal)
            return

        extra = _security_headers(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.decode("latin-1").lower() not in SECURITY_HEADERS
                ]
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> tuple[int, str, str, str] | None:
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self._require_https and scope.get("scheme") != "https":
            return (
                403,
                "https_required",
                "this server answers only HTTPS requests through its proxy; this one came "
                "over plain HTTP (or not from the proxy)",
                "Open the dashboard at the proxy's https:// address. If you did, make the proxy "
                "send `X-Forwarded-Proto: https` and redirect HTTP to HTTPS, and check that "
                "--proxy-ip names the address it connects from (docs/dashboard.md).",
            )
        if self._token is None and not is_loopback_host(_host_name(host)):
            return (
                400,
                "bad_host",
                f"the Host header {host!r} is not this machine's loopback address",
                "Open the dashboard at http://127.0.0.1:PORT/ (the address `keyfolio serve` "
                "printed). Behind a reverse proxy, start it with --behind-proxy and a token.",
            )
        origin = headers.get("origin")
        if origin and scope["method"] not in _SAFE_METHODS and urlsplit(origin).netloc != host:
            return (
                403,
                "forbidden",
                f"cross-origin {scope['method']} from {origin} refused",
                "Use the dashboard served by `keyfolio serve` itself; the API has no CORS.",
            )
        path: str = scope["path"]
        if self._token is not None and path.startswith("/api/") and not self._authorized(scope):
            return (
                401,
                "unauthorized",
                "this server requires an API token",
                "Send `Authorization: Bearer TOKEN` with the token `keyfolio serve` was started "
                "with (--token or KEYFOLIO_API_TOKEN).",
            )
        return None

    def _authorized(self, scope: Scope) -> bool:
        assert self._token is not None
        given = ""
        auth = Headers(scope=scope).get("authorization", "")
        scheme, _, credentials = auth.partition(" ")
        if scheme.lower() == "bearer":
            given = credentials.strip()
        elif scope["path"] == _EVENTS_PATH:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (query.get("token") or [""])[0]
        return hmac.compare_digest(given.encode(), self._token)

    async def _reject(
        self, scope: Scope, send: Send, status: int, code: str, message: str, hint: str
    ) -> None:
        body = json.dumps(error_body(code, message, hint)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        headers += _security_headers(scope)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
