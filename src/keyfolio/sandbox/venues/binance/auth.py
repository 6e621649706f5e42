"""Binance request authentication and error answers, implemented independently of any client.

REST (``USER_DATA`` endpoints): header ``X-MBX-APIKEY``; ``signature`` = hex HMAC-SHA256(secret,
payload) where payload = the query string as sent without its ``signature`` parameter, followed
directly by the body (also without ``signature``). Checked in this order (the first failure wins):

1. no ``X-MBX-APIKEY`` header -> HTTP 401, -2014
2. unknown key -> HTTP 401, -2015 on ``/api/*``; HTTP 400, -2008 on ``/sapi/*``
3. no ``timestamp`` or no ``signature`` -> HTTP 400, -1102
4. ``recvWindow`` above 60000 -> HTTP 400, -1102
5. ``timestamp`` 1000 ms or more ahead of the server, or older than ``recvWindow`` (default
   5000) -> HTTP 400, -1021 (two messages)
6. bad signature -> HTTP 400, -1022
7. caller's IP not in the key's list, or a key without the read permission -> HTTP 401, -2015

The order of 3-7 is not documented by Binance (unverified; docs/exchanges/binance.md).
WebSocket API ``userDataStream.subscribe.signature`` signs the params except ``signature``,
sorted by name, as ``k=v&k=v``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from keyfolio.sandbox.core.book import Key
from keyfolio.sandbox.core.fields import ip_allowed

__all__ = [
    "ERRORS",
    "BinanceFailure",
    "authenticate",
    "failure",
    "sign",
    "strip_signature",
    "ws_payload",
]

# code -> (HTTP status, official message). Sources: Binance spot API docs, "Error codes".
ERRORS: dict[int, tuple[int, str]] = {
    -1000: (400, "An unknown error occurred while processing the request."),
    -1001: (500, "Internal error; unable to process your request. Please try again."),
    -1003: (
        429,
        "Too many requests; current limit of IP({ip}) request weight is {limit} per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
    ),
    -1008: (
        503,
        "Server is currently overloaded with other requests. Please try again in a few minutes.",
    ),
    -1021: (400, "Timestamp for this request is outside of the recvWindow."),
    -1022: (400, "Signature for this request is not valid."),
    -1100: (400, "Illegal characters found in parameter '{param}'; legal range is '{legal}'."),
    -1102: (400, "Mandatory parameter '{param}' was not sent, was empty/null, or malformed."),
    -1121: (400, "Invalid symbol."),
    -1127: (400, "More than {hours} hours between startTime and endTime."),
    -2008: (400, "Invalid Api-Key ID."),
    -2014: (401, "API-key format invalid."),
    -2015: (401, "Invalid API-key, IP, or permissions for action."),
}
_AHEAD = "Timestamp for this request was 1000ms ahead of the server's time."
_WINDOW_MAX = 60_000


@dataclass
class BinanceFailure(Exception):
    """A Binance error answer: ``{"code": <int>, "msg": "..."}`` with its HTTP status."""

    code: int
    msg: str
    status: int
    retry_after: int = 0

    def __str__(self) -> str:
        return f"{self.code}: {self.msg}"

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def failure(
    code: int, *, status: int | None = None, msg: str | None = None, **params: object
) -> BinanceFailure:
    """The :class:`BinanceFailure` for ``code`` with its official message and status."""
    default_status, template = ERRORS[code]
    text = msg if msg is not None else template.format(**params)
    return BinanceFailure(code, text, status if status is not None else default_status)


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload`` with ``secret``, as Binance computes it."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def strip_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` (a query string or form body) without its ``signature`` part, and that value."""
    kept: list[str] = []
    signature: str | None = None
    for part in raw.split("&") if raw else []:
        name, _, value = part.partition("=")
        if name == "signature":
            signature = unquote_plus(value)
        else:
            kept.append(part)
    return "&".join(kept), signature


def ws_payload(params: Mapping[str, object]) -> str:
    """The signed payload of a WebSocket API request: params but ``signature``, sorted."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.lower().encode(), expected.encode())


def _timestamp(raw: str | None, *, now_ms: int, window: int) -> None:
    if raw is None or not raw.isdigit():
        raise failure(-1102, param="timestamp")
    stamp = int(raw)
    if len(raw) >= 16:  # microseconds are accepted too
        stamp //= 1000
    if stamp >= now_ms + 1000:
        raise failure(-1021, msg=_AHEAD)
    if now_ms - stamp > window:
        raise failure(-1021)


def _window(raw: str | None) -> int:
    if raw is None or raw == "":
        return 5000
    try:
        value = int(float(raw))
    except ValueError:
        raise failure(-1102, param="recvWindow") from None
    if value > _WINDOW_MAX or value <= 0:
        raise failure(
            -1102,
            msg=f"'recvWindow' contains unexpected value. Cannot be greater than {_WINDOW_MAX}.",
        )
    return value


def authenticate(
    *,
    headers: Mapping[str, str],
    path: str,
    query: str,
    body: str,
    params: Mapping[str, str],
    keys: Mapping[str, Key],
    peer: str | None,
    now_ms: int,
) -> Key:
    """Check a signed request and return its key, or raise :class:`BinanceFailure`."""
    api_key = headers.get("X-MBX-APIKEY", "")
    if not api_key:
        raise failure(-2014)
    key = keys.get(api_key)
    if key is None:
        raise failure(-2008) if path.startswith("/sapi/") else failure(-2015)
    query_payload, query_sig = strip_signature(query)
    body_payload, body_sig = strip_signature(body)
    signature = query_sig if query_sig is not None else body_sig
    if "timestamp" not in params:
        raise failure(-1102, param="timestamp")
    if not signature:
        raise failure(-1102, param="signature")
    _timestamp(params.get("timestamp"), now_ms=now_ms, window=_window(params.get("recvWindow")))
    if not _same(signature, sign(key.secret, query_payload + body_payload)):
        raise failure(-1022)
    if not ip_allowed(key.ip, peer) or not key.can_read:
        raise failure(-2015)
    return key


def authenticate_ws(
    params: Mapping[str, object], *, keys: Mapping[str, Key], peer: str | None, now_ms: int
) -> Key:
    """Check ``userDataStream.subscribe.signature`` params and return the key."""
    api_key = params.get("apiKey")
    if not isinstance(api_key, str) or not api_key:
        raise failure(-1102, param="apiKey")
    key = keys.get(api_key)
    if key is None:
        raise failure(-2015)
    signature = params.get("signature")
    if not isinstance(signature, str) or not signature:
        raise failure(-1102, param="signature")
    timestamp = params.get("timestamp")
    window = params.get("recvWindow")
    _timestamp(
        str(timestamp) if isinstance(timestamp, int) and not isinstance(timestamp, bool) else None,
        now_ms=now_ms,
        window=_window(None if window is None else str(window)),
    )
    if not _same(signature, sign(key.secret, ws_payload(params))):
        raise failure(-1022)
    if not ip_allowed(key.ip, peer) or not key.can_read:
        raise failure(-2015)
    return key
