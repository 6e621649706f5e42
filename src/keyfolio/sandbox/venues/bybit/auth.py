"""Bybit V5 request authentication and error answers, implemented independently of any client.

REST (private endpoints): headers ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP`` (ms), ``X-BAPI-SIGN``
and optionally ``X-BAPI-RECV-WINDOW`` (default 5000). ``X-BAPI-SIGN`` = lower-case hex
HMAC-SHA256(secret, ``timestamp + apiKey + recvWindow + payload``), where ``recvWindow`` is left
out when its header is not sent and ``payload`` is the query string exactly as sent (GET, without
``?``) or the raw body (POST). Checked in this order (the first failure wins):

1. no ``X-BAPI-*`` headers but ``api_key``/``sign`` in the query (v1/v2 style) -> HTTP 401
2. a missing ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP`` or ``X-BAPI-SIGN`` -> 10001
   (``empty value: apiTimestamp[] apiKey[] apiSignature[]: openapi sign params error!``)
3. unknown key -> 10003
4. the timestamp outside ``server_time - recv_window <= timestamp < server_time + 1000`` -> 10002
5. a wrong signature -> 10004 (the message quotes the origin string, as Bybit does)
6. the caller's IP not among the key's ``ips`` -> 10010

Errors are HTTP 200 with ``retCode`` != 0. The order of 3-6 is not documented by Bybit
(unverified; docs/exchanges/bybit.md). The private WebSocket ``auth`` op signs
``"GET/realtime" + expires`` the same way; ``expires`` must be in the future.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from keyfolio.sandbox.core.book import Key
from keyfolio.sandbox.core.fields import ip_allowed

__all__ = [
    "ERRORS",
    "BybitFailure",
    "WsRefusal",
    "authenticate",
    "authenticate_ws",
    "failure",
    "sign",
]

# retCode -> official message. Sources: Bybit V5 docs "Error codes" and the issues quoted in
# /work/shared/reference/bybit.md; {placeholders} are filled per request.
ERRORS: dict[int, str] = {
    10000: "Server Timeout",
    10001: "{detail}",
    10002: (
        "invalid request, please check your server timestamp or recv_window param. "
        "req_timestamp[{req}],server_timestamp[{server}],recv_window[{window}]"
    ),
    10003: "API key is invalid.",
    10004: "error sign! origin_string[{origin}]",
    10005: "Permission denied, please check your API key permissions.",
    10006: "Too many visits!",
    10010: "Unmatched IP, please check your API key's bound IP addresses.",
    10016: "System error. Please try again later.",
    10017: "route not found",
}
_MISSING = "empty value: apiTimestamp[{ts}] apiKey[{key}] apiSignature[{sign}]: openapi sign " \
    "params error!"  # fmt: skip
_AHEAD_MS = 1000
_DEFAULT_WINDOW = 5000


@dataclass
class BybitFailure(Exception):
    """A Bybit error answer: ``{"retCode": <int>, "retMsg": "...", ...}`` with its HTTP status.

    ``headers`` are sent with it (the rate-limit headers of a 10006).
    """

    code: int
    msg: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code}: {self.msg}"


def failure(code: int, *, msg: str | None = None, **params: object) -> BybitFailure:
    """The :class:`BybitFailure` for ``code`` with its official message."""
    return BybitFailure(code, msg if msg is not None else ERRORS[code].format(**params))


def sign(secret: str, prehash: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``prehash`` with ``secret``, as Bybit computes it."""
    return hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.lower().encode(), expected.encode())


def _window(raw: str | None) -> int:
    if raw is None or raw == "":
        return _DEFAULT_WINDOW
    if not raw.isdigit() or int(raw) <= 0:
        raise failure(10001, detail=f"invalid recv_window[{raw}]")
    return int(raw)


def authenticate(
    *,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    payload: str,
    keys: Mapping[str, Key],
    peer: str | None,
    now_ms: int,
) -> Key:
    """Check a signed request and return its key, or raise :class:`BybitFailure`.

    ``payload`` is the raw query string (GET) or the raw body (POST), as received.
    """
    api_key = headers.get("X-BAPI-API-KEY", "")
    timestamp = headers.get("X-BAPI-TIMESTAMP", "")
    signature = headers.get("X-BAPI-SIGN", "")
    if not (api_key or timestamp or signature) and "api_key" in query and "sign" in query:
        raise BybitFailure(0, "", status=401)  # v1/v2-style auth in the query
    if not api_key or not timestamp or not signature:
        raise failure(10001, msg=_MISSING.format(ts=timestamp, key=api_key, sign=signature))
    key = keys.get(api_key)
    if key is None:
        raise failure(10003)
    raw_window = headers.get("X-BAPI-RECV-WINDOW")
    window = _window(raw_window)
    if not timestamp.isdigit():
        raise failure(10002, req=timestamp, server=now_ms, window=window)
    stamp = int(timestamp)
    if not now_ms - window <= stamp < now_ms + _AHEAD_MS:
        raise failure(10002, req=timestamp, server=now_ms, window=window)
    origin = timestamp + api_key + (raw_window if raw_window is not None else "") + payload
    if not _same(signature, sign(key.secret, origin)):
        raise failure(10004, origin=origin)
    if not ip_allowed(key.ip, peer):
        raise failure(10010)
    return key


@dataclass
class WsRefusal(Exception):
    """A refused WebSocket ``auth`` op: its ``ret_msg`` and whether Bybit echoes the request."""

    ret_msg: str
    echo: bool = True


def authenticate_ws(args: object, *, keys: Mapping[str, Key], peer: str | None, now_ms: int) -> Key:
    """Check ``{"op": "auth", "args": [apiKey, expires, signature]}`` and return the key.

    Raises :class:`WsRefusal`: ``Params Error`` (no echo) for malformed args or an ``expires``
    in the past, as Bybit V5 answers a client with a slow clock (pybit#300);
    ``error:USVC1111`` (with the request echoed) for an unknown key, a wrong signature or an IP
    outside the key's list: one answer for three causes (unverified: Bybit does not document
    its WebSocket auth errors).
    """
    if not isinstance(args, list) or len(args) != 3:
        raise WsRefusal("Params Error", echo=False)
    api_key, expires, signature = args
    if isinstance(expires, int) and not isinstance(expires, bool):
        expires = str(expires)
    if not all(isinstance(part, str) for part in (api_key, expires, signature)):
        raise WsRefusal("Params Error", echo=False)
    assert isinstance(api_key, str) and isinstance(expires, str) and isinstance(signature, str)
    if not expires.isdigit() or int(expires) <= now_ms:
        raise WsRefusal("Params Error", echo=False)
    key = keys.get(api_key)
    if key is None or not _same(signature, sign(key.secret, "GET/realtime" + expires)):
        raise WsRefusal("error:USVC1111")
    if not ip_allowed(key.ip, peer):
        raise WsRefusal("error:USVC1111")
    return key
