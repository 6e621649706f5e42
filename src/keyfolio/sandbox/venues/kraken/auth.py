"""Kraken request authentication and permissions, implemented independently of any client.

Private calls are ``POST /0/private/<Method>`` with headers ``API-Key`` and ``API-Sign`` and a
``nonce`` in the body (form-encoded or JSON)::

    message  = uri_path + SHA256(nonce + postdata)        # postdata: the exact body bytes
    API-Sign = base64(HMAC-SHA512(base64decode(secret), message))

Checked in this order (the first failure wins; Kraken does not document the order, see
docs/sandbox/kraken.md): no or unknown ``API-Key`` -> ``EAPI:Invalid key``; a missing or wrong
``API-Sign`` -> ``EAPI:Invalid signature``; a nonce that is missing or not greater than the last
one this key had accepted -> ``EAPI:Invalid nonce`` (only a correctly signed request consumes a
nonce); the caller's IP not on the key's list, or a key without the endpoint's permission ->
``EGeneral:Permission denied``. Every error is ``{"error": [...]}`` with HTTP 200.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from keyfolio.sandbox.core.book import Key
from keyfolio.sandbox.core.fields import ip_allowed
from keyfolio.sandbox.venues.kraken.book import KrakenBook

__all__ = [
    "INVALID_KEY",
    "INVALID_NONCE",
    "INVALID_SIGNATURE",
    "PERMISSION_DENIED",
    "KrakenFailure",
    "authenticate",
    "has_permission",
    "permissions_of",
    "sign",
]

INVALID_KEY = "EAPI:Invalid key"
INVALID_SIGNATURE = "EAPI:Invalid signature"
INVALID_NONCE = "EAPI:Invalid nonce"
PERMISSION_DENIED = "EGeneral:Permission denied"

#: The common permission words and the ``GetApiKeyInfo`` permissions each gives on Kraken.
_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "read_only": ("query-funds", "query-open-trades", "query-closed-trades", "query-ledger"),
    "trade": ("modify-trades", "cancel-trades"),
    "withdraw": ("withdraw-funds",),
}


@dataclass
class KrakenFailure(Exception):
    """A Kraken error answer: ``{"error": [error], "result"?}`` with its HTTP status (200)."""

    error: str
    status: int = 200

    def __str__(self) -> str:
        return self.error


def permissions_of(key: Key) -> list[str]:
    """The key's permissions in ``GetApiKeyInfo``'s words."""
    found: list[str] = []
    for word in ("read_only", "trade", "withdraw"):
        if word in key.permissions:
            found += _PERMISSIONS[word]
    return found


def sign(secret: str, path: str, nonce: str, body: bytes) -> str:
    """``API-Sign`` of a request: base64 HMAC-SHA512 over ``path + SHA256(nonce + body)``."""
    digest = hashlib.sha256(nonce.encode() + body).digest()
    mac = hmac.new(base64.b64decode(secret), path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def _nonce(params: Mapping[str, str]) -> int:
    raw = params.get("nonce", "")
    if not raw.isdigit() or len(raw) > 20:
        raise KrakenFailure(INVALID_NONCE)
    value = int(raw)
    if value >= 2**64:
        raise KrakenFailure(INVALID_NONCE)
    return value


def authenticate(
    *,
    headers: Mapping[str, str],
    path: str,
    body: bytes,
    params: Mapping[str, str],
    book: KrakenBook,
    peer: str | None,
    now_ms: int,
) -> Key:
    """Check a private request and consume its nonce; returns the key or raises the failure.

    The permission of the endpoint is checked by the caller (after the nonce is consumed).
    """
    api_key = headers.get("API-Key", "")
    key = book.keys.get(api_key) if api_key else None
    if key is None:
        raise KrakenFailure(INVALID_KEY)
    given = headers.get("API-Sign", "")
    if not given:
        raise KrakenFailure(INVALID_SIGNATURE)
    nonce_text = params.get("nonce", "")
    try:
        expected = sign(key.secret, path, nonce_text, body)
    except (binascii.Error, ValueError):
        raise KrakenFailure(INVALID_SIGNATURE) from None
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise KrakenFailure(INVALID_SIGNATURE)
    nonce = _nonce(params)
    state = book.key_state(api_key)
    if nonce <= state.nonce:
        raise KrakenFailure(INVALID_NONCE)
    state.nonce = nonce
    state.last_used_ms = now_ms
    if not ip_allowed(key.ip, peer):
        raise KrakenFailure(PERMISSION_DENIED)
    return key


def has_permission(key: Key, needed: tuple[str, ...]) -> bool:
    """Whether the key has one of ``needed`` (Kraken's words); an empty tuple needs none."""
    if not needed:
        return True
    return bool(set(permissions_of(key)) & set(needed))
