"""OKX request authentication, implemented independently of any client library.

REST: ``OK-ACCESS-SIGN = Base64(HMAC_SHA256(secret, timestamp + METHOD + path?query + body))``,
checked in exactly this order (the first failure wins):

1. missing ``OK-ACCESS-KEY`` / ``-PASSPHRASE`` / ``-SIGN`` / ``-TIMESTAMP`` -> 50103 / 50104 /
   50106 / 50107
2. unknown key -> 50111
3. malformed timestamp -> 50112
4. more than 30 s from server time -> 50102
5. key of another region than the server's -> 50119 (HTTP 200)
6. wrong passphrase -> 50105
7. bad signature -> 50113
8. ``x-simulated-trading: 1`` not matching the key's ``demo`` flag -> 50101
9. caller's IP not in the key's ``ip`` list -> 50110

WebSocket login signs ``timestamp + "GET" + "/users/self/verify"`` with ``timestamp`` in
Unix seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from keyfolio.sandbox.core.fields import ip_allowed
from keyfolio.sandbox.venues.okx.protocol import failure
from keyfolio.sandbox.venues.okx.state import KeyState

__all__ = [
    "WINDOW_SECONDS",
    "authenticate_rest",
    "authenticate_ws",
    "parse_iso_timestamp",
    "require_read",
    "sign",
]

WINDOW_SECONDS = 30.0
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
_SECONDS = re.compile(r"^\d{1,12}(\.\d{1,6})?$")


def sign(secret: str, prehash: str) -> str:
    """Base64 HMAC-SHA256 of ``prehash`` with ``secret``, as OKX computes it."""
    digest = hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def parse_iso_timestamp(text: str) -> float | None:
    """``2020-12-08T09:08:57.715Z`` -> Unix seconds; ``None`` when malformed."""
    if not _ISO.match(text):
        return None
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00")
    except ValueError:
        return None
    return moment.timestamp()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def authenticate_rest(
    *,
    headers: Mapping[str, str],
    method: str,
    path_qs: str,
    body: str,
    keys: Mapping[str, KeyState],
    region: str,
    peer: str | None,
    now: float,
) -> KeyState:
    """Check a private REST request and return its key, or raise ``OkxFailure``."""
    api_key = headers.get("OK-ACCESS-KEY", "")
    passphrase = headers.get("OK-ACCESS-PASSPHRASE", "")
    signature = headers.get("OK-ACCESS-SIGN", "")
    timestamp = headers.get("OK-ACCESS-TIMESTAMP", "")
    for value, code in (
        (api_key, "50103"),
        (passphrase, "50104"),
        (signature, "50106"),
        (timestamp, "50107"),
    ):
        if not value:
            raise failure(code)
    key = keys.get(api_key)
    if key is None:
        raise failure("50111")
    moment = parse_iso_timestamp(timestamp)
    if moment is None:
        raise failure("50112")
    if abs(now - moment) > WINDOW_SECONDS:
        raise failure("50102")
    if key.region != region:
        raise failure("50119")
    if not _same(passphrase, key.passphrase):
        raise failure("50105")
    expected = sign(key.secret, timestamp + method.upper() + path_qs + body)
    if not _same(signature, expected):
        raise failure("50113")
    wants_demo = headers.get("x-simulated-trading", "0").strip() == "1"
    if wants_demo != key.demo:
        raise failure("50101")
    if not ip_allowed(key.ip, peer):
        raise failure("50110", ip=peer or "unknown")
    return key


def require_read(key: KeyState) -> None:
    """Raise 50120 (HTTP 200) when the key lacks the ``read_only`` permission."""
    if "read_only" not in key.permissions:
        raise failure("50120")


def authenticate_ws(arg: Any, *, keys: Mapping[str, KeyState], region: str, now: float) -> KeyState:
    """Check one WebSocket ``login`` argument and return its key, or raise ``OkxFailure``.

    Errors: 60012 malformed request, 60032 unknown key (or another region's), 60004 bad
    timestamp, 60006 expired timestamp, 60024 wrong passphrase, 60009 bad signature.
    """
    if not isinstance(arg, dict):
        raise failure("60012", request="login args must be objects")
    api_key, passphrase = arg.get("apiKey"), arg.get("passphrase")
    timestamp, signature = arg.get("timestamp"), arg.get("sign")
    if not all(isinstance(v, str) and v for v in (api_key, passphrase, signature)):
        raise failure("60012", request="login needs apiKey, passphrase, timestamp and sign")
    assert isinstance(api_key, str) and isinstance(passphrase, str)
    assert isinstance(signature, str)
    key = keys.get(api_key)
    if key is None or key.region != region:
        raise failure("60032")
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        ts_text = str(timestamp)  # python-okx sends an int
    elif isinstance(timestamp, str) and _SECONDS.match(timestamp):
        ts_text = timestamp
    else:
        raise failure("60004")
    if abs(now - float(ts_text)) > WINDOW_SECONDS:
        raise failure("60006")
    if not _same(passphrase, key.passphrase):
        raise failure("60024")
    if not _same(signature, sign(key.secret, ts_text + "GET/users/self/verify")):
        raise failure("60009")
    return key
