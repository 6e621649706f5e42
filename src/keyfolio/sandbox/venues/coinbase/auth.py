"""Coinbase CDP key authentication: one signed JWT per request, checked with the sandbox's own code.

A private request carries ``Authorization: Bearer <JWT>``. The JWT is
``base64url(header) . base64url(claims) . base64url(signature)``; the sandbox checks, in order:

1. the header: ``Bearer``, three base64url parts, JSON header and claims   -> ``malformed``
2. ``alg`` is ``ES256`` or ``EdDSA`` and ``kid`` names a key of the state  -> ``unknown_key``
3. ``alg`` fits the key: ES256 for an EC P-256 key, EdDSA for Ed25519      -> ``wrong_alg``
4. the signature (ES256: raw ``r||s``, 64 bytes; EdDSA: 64 bytes)           -> ``bad_signature``
5. ``sub`` is the key name                                                   -> ``sub``
6. ``nbf <= now < exp`` and ``exp - nbf <= 120`` (a JWT lives two minutes)   -> ``not_yet_valid``,
   ``expired``, ``lifetime``
7. ``uri`` (the SDK, ccxt's ES256 path) or one of ``uris`` (ccxt's EdDSA path) is
   ``"<METHOD> <host><path>"`` for this request: an optional ``http://``/``https://`` is
   stripped (ccxt signs the whole URL but ``https://``), the host is the ``Host`` header, and a
   query string is refused                                                   -> ``uri``
8. the caller's IP is on the key's list                                     -> ``ip``

Every failure is the same answer, as on Coinbase: HTTP 401 with the text ``Unauthorized``.
The reason is only in the request log's code (``401 bad_signature``), for tests and debugging.
``iss``, ``aud``, ``iat`` and the header ``nonce`` are not checked (the SDK and ccxt differ).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from keyfolio.sandbox.core.book import Key
from keyfolio.sandbox.core.clock import now as server_now
from keyfolio.sandbox.core.fields import ip_allowed
from keyfolio.sandbox.venues.coinbase.common import CoinbaseFailure

__all__ = [
    "LIFETIME_S",
    "UNAUTHORIZED",
    "KeyKind",
    "authenticate",
    "jwt_kid",
    "key_kind",
    "unauthorized",
]

LIFETIME_S = 120
UNAUTHORIZED = "Unauthorized"

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True)
class KeyKind:
    """A CDP private key's JWT algorithm and its public key."""

    alg: str  # ES256 or EdDSA
    public: PublicKey


def unauthorized(reason: str) -> CoinbaseFailure:
    """The one answer to every authentication failure; ``reason`` goes to the request log."""
    return CoinbaseFailure(401, UNAUTHORIZED, f"401 {reason}")


def _unescape(secret: str) -> str:
    """A PEM pasted with literal ``\\n`` (as the SDK accepts it) gets its newlines back."""
    return secret.replace("\\n", "\n").strip()


@cache
def key_kind(secret: str) -> KeyKind:
    """The algorithm and public key of a CDP private key: an EC P-256 PEM (SEC1 or PKCS#8), an
    Ed25519 PEM, or the portal's Ed25519 form (base64 of the 32-byte seed and the public key).
    Raises ValueError naming the problem."""
    text = _unescape(secret)
    private: Any
    if text.startswith("-----BEGIN"):
        try:
            private = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a readable unencrypted PEM private key ({exc})") from None
    else:
        try:
            raw = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("neither a PEM private key nor base64") from None
        if len(raw) not in (32, 64):
            raise ValueError(f"an Ed25519 key decodes to 32 or 64 bytes, not {len(raw)}")
        private = ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32])
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return KeyKind("EdDSA", private.public_key())
    if isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, ec.SECP256R1):
        return KeyKind("ES256", private.public_key())
    raise ValueError("a CDP key is ECDSA on P-256 (ES256) or Ed25519 (EdDSA)")


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _decode(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    parts = token.split(".")
    if len(parts) != 3:
        raise unauthorized("malformed")
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
        signature = _b64(parts[2])
    except (ValueError, binascii.Error):
        raise unauthorized("malformed") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise unauthorized("malformed")
    return header, claims, signature, f"{parts[0]}.{parts[1]}".encode()


def _bearer(headers: Mapping[str, str]) -> str:
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or not token.strip():
        raise unauthorized("malformed")
    return token.strip()


def jwt_kid(headers: Mapping[str, str]) -> str | None:
    """The key name a request's JWT claims (unverified: for the request log only)."""
    try:
        header, _, _, _ = _decode(_bearer(headers))
    except CoinbaseFailure:
        return None
    kid = header.get("kid")
    return kid if isinstance(kid, str) and kid else None


def _verify(kind: KeyKind, signature: bytes, signed: bytes) -> None:
    try:
        if isinstance(kind.public, ed25519.Ed25519PublicKey):
            kind.public.verify(signature, signed)
            return
        if len(signature) != 64:
            raise unauthorized("bad_signature")
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        kind.public.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise unauthorized("bad_signature") from None


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise unauthorized(name)
    return float(value)


def _times(claims: Mapping[str, Any], now: float) -> None:
    nbf, exp = _number(claims, "nbf"), _number(claims, "exp")
    if nbf > now:
        raise unauthorized("not_yet_valid")
    if exp <= now:
        raise unauthorized("expired")
    if exp - nbf > LIFETIME_S:
        raise unauthorized("lifetime")


def _request_uri(uri: object, method: str, host: str, path: str) -> bool:
    if not isinstance(uri, str):
        return False
    verb, _, target = uri.partition(" ")
    for scheme in ("https://", "http://"):
        target = target.removeprefix(scheme)
    return verb == method and "?" not in target and target == host + path


def _uri(claims: Mapping[str, Any], method: str, host: str, path: str) -> None:
    uris = claims.get("uris")
    candidates = uris if isinstance(uris, list) else [claims.get("uri")]
    if not any(_request_uri(uri, method, host, path) for uri in candidates):
        raise unauthorized("uri")


def authenticate(
    *,
    headers: Mapping[str, str],
    method: str,
    host: str,
    path: str,
    keys: Mapping[str, Key],
    peer: str | None,
    now: float | None = None,
) -> Key:
    """Check a private request's JWT and return its key, or raise the 401 failure."""
    header, claims, signature, signed = _decode(_bearer(headers))
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if header.get("alg") not in ("ES256", "EdDSA") or key is None:
        raise unauthorized("unknown_key")
    kind = key_kind(key.secret)
    if header.get("alg") != kind.alg:
        raise unauthorized("wrong_alg")
    _verify(kind, signature, signed)
    if claims.get("sub") != key.api_key:
        raise unauthorized("sub")
    _times(claims, server_now() if now is None else now)
    _uri(claims, method, host, path)
    if not ip_allowed(key.ip, peer):
        raise unauthorized("ip")
    return key
