"""Bybit's error codes as data: each ``retCode`` (and the HTTP statuses Bybit answers without a
body) with its keyfolio class, what happened, and a specific hint.

``exchanges/errors.py`` is still the one place where they are applied (``VenueInfo.codes``):
ccxt raises Bybit's errors with the raw body in the message (``bybit {"retCode":10003,...}``);
an answer with no JSON body is keyed ``HTTP <status>``.
"""

from __future__ import annotations

from keyfolio.errors import (
    ClockSkewError,
    ExchangeError,
    ExchangeUnavailableError,
    ExchangeUnsupportedError,
    InvalidKeyError,
    InvalidSignatureError,
    IpNotAllowedError,
    KeyRefusedError,
    PermissionDeniedError,
    RateLimitedError,
)
from keyfolio.exchanges.venue import CodeMap

__all__ = ["BYBIT_CODES", "BYBIT_HINTS", "IP_BLOCK_SECONDS"]

IP_BLOCK_SECONDS = 600.0
"""Bybit blocks an IP for 10 minutes after more than 600 requests in 5 s (HTTP 403)."""

_UNKNOWN_KEY_HINT = (
    "Bybit does not know this API key on this site. A key belongs to one site (bybit.com; "
    "bybit.nl, bybit.tr, bybit.kz, bybit.eu... are separate) and one environment (mainnet, "
    "testnet or demo trading). Copy the API Key again from API Management, or re-add the "
    "account with the site's host, e.g. --api-url https://api.bybit.nl."
)

BYBIT_CODES: CodeMap = {
    "10003": (InvalidKeyError, "does not know the API key{account}"),
    "HTTP 401": (InvalidKeyError, "refused the API key{account}"),
    "10004": (
        InvalidSignatureError,
        "rejected the signature{account}: the API secret is wrong",
    ),
    "10002": (
        ClockSkewError,
        "refused the request timestamp{account} (outside recv_window)",
    ),
    "10010": (
        IpNotAllowedError,
        "refused this IP address{account}: it is not one the key is bound to",
    ),
    "10005": (PermissionDeniedError, "refused the request{account}: the key lacks a permission"),
    "10007": (KeyRefusedError, "could not authenticate the API key{account}"),
    "10009": (KeyRefusedError, "refused this IP address or region{account}"),
    "33004": (InvalidKeyError, "says the API key{account} has expired"),
    "10006": (RateLimitedError, "is rate limiting requests{account} (too many visits)"),
    "HTTP 403": (
        RateLimitedError,
        "refused this IP address{account} (HTTP 403: too many requests from it, or a country "
        "Bybit does not serve)",
    ),
    "10000": (ExchangeUnavailableError, "timed out{account}"),
    "10016": (ExchangeUnavailableError, "had a system error{account}"),
    "10017": (ExchangeUnsupportedError, "does not know this endpoint{account}"),
    "10028": (
        ExchangeUnsupportedError,
        "serves this endpoint to Unified Trading Accounts only{account}",
    ),
    "HTTP 404": (
        ExchangeUnsupportedError,
        "does not offer this endpoint for the account{account}",
    ),
    "10001": (ExchangeError, "refused a request parameter{account}"),
}
"""Bybit V5 codes -> (class, what happened); ``{account}`` becomes `` for account 'name'``."""

BYBIT_HINTS: dict[str, str] = {
    "10003": _UNKNOWN_KEY_HINT,
    "HTTP 401": _UNKNOWN_KEY_HINT,
    "10004": "The API Secret does not belong to this API key. Bybit shows the secret only "
    "once, when the key is created: create a new read-only key if it is lost.",
    "10002": "Synchronise this machine's clock (e.g. `timedatectl set-ntp true`): Bybit refuses "
    "a request more than 1 s ahead of its clock or older than recv_window (5 s).",
    "10010": "The key is bound to other IP addresses. In Bybit API Management edit the key and "
    "add this machine's public IP address, or create a read-only key bound to it.",
    "10005": "The key lacks a permission this balance needs: Earn balances need 'Earn' ticked on "
    "the key (it stays Read-Only). Edit the key in Bybit API Management; the other sources "
    "are kept.",
    "10007": "Bybit could not authenticate the key: check it in API Management, or create a new "
    "read-only key.",
    "10009": "Bybit refuses requests from some countries (the USA, mainland China) and blocked "
    "IP addresses. Run keyfolio from a place Bybit serves.",
    "33004": "Keys not bound to an IP address expire 90 days after they are created. Create a new "
    "read-only key bound to your IP address (it does not expire) and run `keyfolio account "
    "rotate`.",
    "10006": "keyfolio waits until Bybit's X-Bapi-Limit-Reset-Timestamp before it asks again, so "
    "the key is never blocked. Sync again in a few seconds.",
    "HTTP 403": "Bybit blocks an IP address for 10 minutes after more than 600 requests in 5 s, "
    "and refuses some countries (the USA, mainland China). keyfolio sends nothing more to "
    "Bybit for 10 minutes; the last good data is kept.",
    "10028": "This account is not a Unified Trading Account. Upgrade it in Bybit (Assets > "
    "Unified Trading Account): keyfolio reads Unified accounts.",
    "HTTP 404": "Bybit answers 404 when an account's mode does not offer the endpoint (a classic, "
    "non-unified account has no UNIFIED wallet). Upgrade to the Unified Trading Account; the "
    "other sources are kept.",
}
