"""Coinbase test fixtures shared by the sandbox, connector, CLI and web tests: CDP keys made on
the spot (their private keys are the planted secrets), a state, and an independent JWT signer."""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.request
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from venue_support import DAY_MS, fetch, key_row, spot_fills

T0 = 1_700_000_000_000  # 2023-11-14


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def _ed25519() -> tuple[str, str]:
    """An Ed25519 key as the portal shows it (base64 of seed and public key) and as PKCS#8."""
    key = ed25519.Ed25519PrivateKey.generate()
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return base64.b64encode(seed + public).decode(), pem


def _name(label: str) -> str:
    return f"organizations/org-{label}/apiKeys/key-{label}-{secrets.token_hex(4)}"


_ED_B64, _ED_PEM = _ed25519()
CB_READ = {"apiKey": _name("read"), "secret": _ec_pem()}
"""View only, ECDSA (ES256)."""
CB_ED = {"apiKey": "5d4f8b1e-0c3a-4e2b-9f7d-" + secrets.token_hex(6), "secret": _ED_B64}
"""View only, Ed25519 in the portal's one-line form (EdDSA)."""
CB_ED_PEM = {"apiKey": CB_ED["apiKey"], "secret": _ED_PEM}
"""The same Ed25519 key as PKCS#8 PEM."""
CB_TRADE = {"apiKey": _name("trade"), "secret": _ec_pem()}
CB_TRANSFER = {"apiKey": _name("transfer"), "secret": _ec_pem()}
CB_NO_VIEW = {"apiKey": _name("noview"), "secret": _ec_pem()}
CB_IP = {"apiKey": _name("ip"), "secret": _ec_pem()}
CB_BOB = {"apiKey": _name("bob"), "secret": _ec_pem()}
ALL_KEYS = (CB_READ, CB_ED, CB_TRADE, CB_TRANSFER, CB_NO_VIEW, CB_IP, CB_BOB)


def secret_parts(secret: str) -> list[str]:
    """What must never leak of a private key: every body line of a PEM, or the whole key."""
    lines = [line for line in secret.splitlines() if line and not line.startswith("-----")]
    return lines or [secret]


CB_SECRETS = [part for key in (*ALL_KEYS, CB_ED_PEM) for part in secret_parts(key["secret"])]


def coinbase_state() -> dict[str, Any]:
    """Wallets with a hold (inside the balance), cash, CGLD and ETH2, a Staked ADA wallet, fills
    in USD books, a bank deposit, crypto transfers; one key per auth scenario."""

    fills = spot_fills(T0, quote="USD", btc_fee="20", btc_fee_asset="USD", eth_fee_asset=None)
    return {
        "exchange": "coinbase",
        "tickers": {
            "BTC-USD": {"last": "60000", "open24h": "58000"},
            "ETH-USD": {"last": "3000"},
            "ADA-USD": {"last": "0.5"},
            "CGLD-USD": {"last": "0.6"},
            "SOL-USDT": {"last": "150"},
            "ABC-BTC": {"last": "0.0001"},
        },
        "keys": [
            key_row(CB_READ),
            key_row(CB_ED),
            key_row(CB_TRADE, perm="read_only,trade"),
            key_row(CB_TRANSFER, perm="read_only,withdraw"),
            key_row(CB_NO_VIEW, perm="trade"),
            key_row(CB_IP, ip="203.0.113.9"),
            key_row(CB_BOB, account="bob"),
        ],
        "accounts": {
            "alice": {
                "wallets": {
                    "BTC": "0.5",
                    "USD": "1000",
                    "ETH": "1",
                    "CGLD": "10",
                    "ETH2": "0.25",
                    "ABC": "50",
                },  # fmt: skip
                "holds": {"BTC": "0.1", "USD": "200"},
                "staked": {"ADA": "100"},
                "fills": fills,
                "deposits": [
                    {"id": "d1", "asset": "USD", "amount": "5000", "ts": T0 - 400 * DAY_MS},
                    {
                        "id": "d2",
                        "asset": "ETH",
                        "amount": "1",
                        "txid": "0xd2",
                        "ts": T0,
                        "network": "ethereum",
                    },
                ],  # fmt: skip
                "withdrawals": [
                    {
                        "id": "w1",
                        "asset": "ETH",
                        "amount": "0.5",
                        "fee": "0.001",
                        "txid": "0xw1",
                        "ts": T0 + 20 * DAY_MS,
                        "network": "ethereum",
                    },
                ],  # fmt: skip
            },
            "bob": {"wallets": {"BTC": "2"}},
        },
    }


# -- an independent signer (PyJWT, as the official SDK signs) ----------------------------------


def token(
    key: dict[str, str],
    method: str,
    host: str,
    path: str,
    *,
    secret: str | None = None,
    now: float | None = None,
    uri: str | None = None,
    uris: list[str] | None = None,
    alg: str | None = None,
    lifetime: int = 120,
) -> str:
    """A CDP JWT for one request, as coinbase-advanced-py builds it (``uri`` claim), or as
    ccxt's EdDSA path does (``uris``)."""
    pem = secret if secret is not None else key["secret"]
    private: Any
    if pem.startswith("-----BEGIN"):
        private = serialization.load_pem_private_key(pem.encode(), password=None)
    else:
        private = ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(pem)[:32])
    algorithm = alg or ("EdDSA" if isinstance(private, ed25519.Ed25519PrivateKey) else "ES256")
    moment = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": key["apiKey"],
        "iss": "cdp",
        "nbf": moment,
        "exp": moment + lifetime,
    }
    if uris is not None:
        claims["uris"] = uris
    else:
        claims["uri"] = uri if uri is not None else f"{method} {host}{path}"
    headers = {"kid": key["apiKey"], "nonce": secrets.token_hex()}
    return jwt.encode(claims, private, algorithm=algorithm, headers=headers)


def signed(
    url: str, path: str, *, key: dict[str, str] = CB_READ, method: str = "GET",
    query: str = "", body: Any = None, **options: Any,
) -> tuple[int, Any, dict[str, str]]:  # fmt: skip
    """One JWT-signed request to the sandbox: (status, decoded JSON or text, headers)."""
    host = url.split("://", 1)[1]
    bearer = token(key, method, host, path, **options)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + path + (f"?{query}" if query else ""),
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
    )
    return fetch(request)
