"""Helpers for the API tests: planted keys, a sandbox state, a recording HTTP client."""

from __future__ import annotations

from typing import Any

import httpx
from cli_support import base_state, control  # noqa: F401 - control is re-exported for the API tests

PASSWORD = "api-vault-pw-PLANTED-41c7"
TOKEN = "api-token-PLANTED-8f2e6d1c"
READ_KEY = {
    "apiKey": "api-ro-key-5b0e1c7a",
    "secret": "api-ro-secret-PLANT-e3a9",
    "passphrase": "api-ro-pass-77c2",
}
UNSAFE_KEY = {
    "apiKey": "api-rw-key-1f2e3d4c",
    "secret": "api-rw-secret-0a9b",
    "passphrase": "api-rw-pass-5d6e",
}
EEA_KEY = {
    "apiKey": "api-eea-key-9a8b7c",
    "secret": "api-eea-secret-6d5e",
    "passphrase": "api-eea-pass-3c2b",
}
BOB_KEY = {
    "apiKey": "api-bob-key-4e5f6a",
    "secret": "api-bob-secret-7b8c",
    "passphrase": "api-bob-pass-1e2f",
}
ALICE2_KEY = {
    "apiKey": "api-al2-key-0c1d2e",
    "secret": "api-al2-secret-3f4a",
    "passphrase": "api-al2-pass-5b6c",
}
WRONG = ["wrong-pass-PLANTED-9z", "wrong-secret-PLANTED-8y", "wrong-vault-PLANTED-7x"]
SECRETS = [
    v for key in (READ_KEY, UNSAFE_KEY, EEA_KEY, BOB_KEY, ALICE2_KEY) for v in key.values()
] + [PASSWORD, TOKEN, *WRONG]

ALICE_TOTAL = "39670"


def body(creds: dict[str, str], *, name: str, url: str, **extra: Any) -> dict[str, Any]:
    """A POST /accounts body for the sandbox."""
    return {
        "exchange": "okx",
        "name": name,
        "api_url": url,
        "credentials": {
            "api_key": creds["apiKey"],
            "secret": creds["secret"],
            "passphrase": creds["passphrase"],
        },
        **extra,
    }


def credentials(creds: dict[str, str]) -> dict[str, str]:
    return {
        "api_key": creds["apiKey"],
        "secret": creds["secret"],
        "passphrase": creds["passphrase"],
    }


def state_data() -> dict[str, Any]:
    """cli_support's accounts and tickers (alice in all four sources, bob with 2 BTC) with
    this package's own planted keys."""

    def key(creds: dict[str, str], **extra: Any) -> dict[str, Any]:
        return {**creds, "perm": "read_only", "account": "alice", "label": "tracker", **extra}

    return {
        **base_state(),
        "keys": [
            key(READ_KEY),
            key(ALICE2_KEY),
            key(UNSAFE_KEY, perm="read_only,withdraw,trade"),
            key(EEA_KEY, region="eea"),
            key(BOB_KEY, account="bob"),
        ],
    }


class Recorder:
    """Collects every response body a client saw (to grep for secrets)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        self.bodies.append(f"{response.status_code} {dict(response.headers)} {response.text}")

    def text(self) -> str:
        return "\n".join(self.bodies)
