"""A CDP private key as a user pastes it, checked and put in the form ccxt signs with.

The CDP portal gives a key in one of these forms; each is accepted:

* ECDSA (ES256): a SEC1 PEM, ``-----BEGIN EC PRIVATE KEY-----`` ... ``-----END EC PRIVATE
  KEY-----`` on the P-256 curve (a PKCS#8 ``-----BEGIN PRIVATE KEY-----`` of P-256 too);
* Ed25519 (EdDSA): 88 characters of base64 (the 32-byte seed and the 32-byte public key), or a
  PKCS#8 PEM ``-----BEGIN PRIVATE KEY-----``;
* the downloaded key file ``cdp_api_key.json``: ``{"name": ..., "privateKey": ...}`` (older files
  ``{"id": ...}``);
* any of these with literal ``\\n`` where the newlines were (as ``.env`` files hold them).

The checks read the key's structure only (no cryptography outside the vault): a key that passes
is then tried once by ccxt's own signer before any request is sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import textwrap
from dataclasses import dataclass

from keyfolio.errors import InvalidSignatureError

__all__ = ["EXPECTED_FORMS", "CdpSecret", "cdp_secret", "secret_error"]

EXPECTED_FORMS = (
    "Paste the private key exactly as the CDP portal showed it: an ECDSA key from "
    "'-----BEGIN EC PRIVATE KEY-----' to '-----END EC PRIVATE KEY-----' (all lines), or an "
    "Ed25519 key (88 characters of base64 ending in '==', or from '-----BEGIN PRIVATE KEY-----' "
    "to '-----END PRIVATE KEY-----'). The downloaded cdp_api_key.json works too: "
    "`keyfolio account add coinbase --name NAME --secret-file cdp_api_key.json`."
)

_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END ([A-Z0-9 ]+)-----", re.DOTALL)
_P256_OID = bytes.fromhex("06082a8648ce3d030107")
_SEC1_KEY = bytes.fromhex("020101" + "0420")  # version 1, then a 32-byte private key
_ED25519_PKCS8 = bytes.fromhex("302e020100300506032b657004220420")


@dataclass(frozen=True)
class CdpSecret:
    """A checked CDP private key: its JWT algorithm and the secret ccxt signs with."""

    alg: str  # ES256 or EdDSA
    for_ccxt: str = ""

    def __repr__(self) -> str:
        return f"CdpSecret(alg={self.alg!r})"


def secret_error(problem: str, *, account: str) -> InvalidSignatureError:
    """The error for a private key keyfolio cannot use, naming the forms it takes."""
    return InvalidSignatureError(
        f"The Coinbase private key for account '{account}' is not a CDP private key: {problem}.",
        hint=EXPECTED_FORMS,
    )


def _from_key_file(api_key: str, text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, dict) or not isinstance(data.get("privateKey"), str):
        raise ValueError("a JSON key file needs a 'privateKey' (the CDP portal's download)")
    name = data.get("name") or data.get("id")
    if isinstance(name, str) and api_key.strip() and name.strip() != api_key.strip():
        raise ValueError(f"the key file is for the key {name!r}, not the key name given")
    return str(data["privateKey"])


def _b64(body: str) -> bytes:
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("its body is not base64") from None


def _ec_pem(der: bytes) -> str:
    lines = textwrap.wrap(base64.b64encode(der).decode(), 64)
    return (
        "-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END EC PRIVATE KEY-----\n"
    )


def _pem(text: str) -> CdpSecret:
    found = _PEM.search(text)
    if found is None:
        raise ValueError("the PEM is cut short: its '-----END ...-----' line is missing")
    label, body, end = found.groups()
    if label != end:
        raise ValueError(f"the PEM begins as {label!r} but ends as {end!r}")
    der = _b64(body)
    if label == "EC PRIVATE KEY":
        if not der.startswith(b"\x30") or _SEC1_KEY not in der[:12]:
            raise ValueError("the EC key is damaged (not a SEC1 private key)")
        if _P256_OID not in der:
            raise ValueError("the EC key is not on the P-256 curve that CDP keys use")
        return CdpSecret("ES256", _ec_pem(der))
    if label == "PRIVATE KEY":
        if der.startswith(_ED25519_PKCS8) and len(der) == len(_ED25519_PKCS8) + 32:
            return CdpSecret("EdDSA", base64.b64encode(der[-32:]).decode())
        if _P256_OID in der:
            return CdpSecret("ES256", text[found.start() : found.end()] + "\n")
        raise ValueError("the PKCS#8 key is neither Ed25519 nor ECDSA P-256")
    if label == "ENCRYPTED PRIVATE KEY":
        raise ValueError("it is encrypted with a passphrase; CDP keys are not")
    raise ValueError(f"a {label!r} PEM is not a private key")


def _raw(text: str) -> CdpSecret:
    raw = _b64(text)
    if raw.startswith(b"\x30") and len(raw) > 64:
        raise ValueError(
            "it is a PEM body without its '-----BEGIN ...-----' and '-----END ...-----' lines"
        )
    if len(raw) not in (32, 64):
        raise ValueError(f"an Ed25519 key is 64 bytes of base64 (88 characters), not {len(raw)}")
    return CdpSecret("EdDSA", base64.b64encode(raw[:32]).decode())


def cdp_secret(api_key: str, secret: str) -> CdpSecret | str:
    """The checked key, or the problem (a sentence naming what is wrong, never the key)."""
    name = api_key.strip()
    if not name:
        return "the API key name is empty"
    if "-----BEGIN" in name:
        return "the API key name field holds a private key: the two were swapped"
    text = secret.strip()
    if text.startswith(("organizations/", "projects/")):
        return "the private key field holds a key name: the two were swapped"
    try:
        text = _from_key_file(name, text).replace("\\n", "\n").strip()
        if not text:
            return "it is empty"
        if "-----BEGIN" in text:
            return _pem(text)
        if text.startswith("-----") or "PRIVATE KEY" in text:
            return "the PEM is cut short: its '-----BEGIN ...-----' line is missing"
        return _raw(text)
    except ValueError as exc:
        return str(exc)
