"""The one place where ccxt exceptions become keyfolio errors.

``CCXT_ERROR_MAP`` maps every class of ``ccxt.base.errors`` (by class name, so this module can be
imported without importing ccxt) to a keyfolio error class. :func:`map_ccxt_errors` walks the
exception's MRO, so the most specific mapping wins.

Before the class map, OKX error codes are classified by their code: ccxt raises most OKX errors
with the raw JSON body in the message (``okx {"code":"50119","msg":"..."}``), and several codes
that matter to a tracker (50119 wrong region, 50120 / 50030 permission) reach ccxt's catch-all
``ExchangeError`` only. The code gives each its own class and a specific hint.

Every translated error is an :class:`~keyfolio.errors.ExchangeError` carrying ``exchange_code``
(the exchange's own code, or ``"HTTP 429"`` style when only the status is known) and is raised
``from`` the original exception. Messages never contain query strings (signed URLs) or secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from keyfolio.domain.accounts import Region
from keyfolio.errors import (
    ClockSkewError,
    EnvironmentMismatchError,
    ExchangeAuthError,
    ExchangeError,
    ExchangeResponseError,
    ExchangeUnavailableError,
    ExchangeUnsupportedError,
    InvalidKeyError,
    InvalidSignatureError,
    IpNotAllowedError,
    KeyfolioError,
    KeyNotInRegionError,
    PermissionDeniedError,
    RateLimitedError,
    WrongPassphraseError,
)

__all__ = [
    "CCXT_ERROR_MAP",
    "OKX_CODE_MAP",
    "OKX_EXCHANGE_IDS",
    "display_name",
    "map_ccxt_errors",
    "translate_error",
]

#: ccxt ids served by OKX's V5 API (classified by OKX code, handled by the OKX connector).
OKX_EXCHANGE_IDS = frozenset({"okx", "myokx", "okxus"})

#: Every class in ``ccxt.base.errors`` (by name) -> the keyfolio class it becomes.
CCXT_ERROR_MAP: dict[str, type[ExchangeError]] = {
    "BaseError": ExchangeError,
    "ExchangeError": ExchangeError,
    "AuthenticationError": ExchangeAuthError,
    "PermissionDenied": PermissionDeniedError,
    "AccountNotEnabled": PermissionDeniedError,
    "AccountSuspended": ExchangeAuthError,
    "ArgumentsRequired": ExchangeError,
    "BadRequest": ExchangeError,
    "BadSymbol": ExchangeError,
    "OperationRejected": ExchangeError,
    "NoChange": ExchangeError,
    "MarginModeAlreadySet": ExchangeError,
    "MarketClosed": ExchangeError,
    "ManualInteractionNeeded": ExchangeError,
    "RestrictedLocation": ExchangeAuthError,
    "InsufficientFunds": ExchangeError,
    "InvalidAddress": ExchangeError,
    "AddressPending": ExchangeError,
    "InvalidOrder": ExchangeError,
    "OrderNotFound": ExchangeError,
    "OrderNotCached": ExchangeError,
    "OrderImmediatelyFillable": ExchangeError,
    "OrderNotFillable": ExchangeError,
    "DuplicateOrderId": ExchangeError,
    "ContractUnavailable": ExchangeError,
    "NotSupported": ExchangeUnsupportedError,
    "InvalidProxySettings": ExchangeError,
    "ExchangeClosedByUser": ExchangeError,
    "OperationFailed": ExchangeUnavailableError,
    "NetworkError": ExchangeUnavailableError,
    "DDoSProtection": RateLimitedError,
    "RateLimitExceeded": RateLimitedError,
    "ExchangeNotAvailable": ExchangeUnavailableError,
    "OnMaintenance": ExchangeUnavailableError,
    "InvalidNonce": ClockSkewError,
    "ChecksumError": ExchangeResponseError,
    "RequestTimeout": ExchangeUnavailableError,
    "BadResponse": ExchangeUnavailableError,
    "NullResponse": ExchangeUnavailableError,
    "CancelPending": ExchangeError,
    "UnsubscribeError": ExchangeError,
}

#: OKX V5 codes -> (class, what happened). Checked before the class map.
#: ``{account}`` becomes `` for account 'name'`` (or nothing).
OKX_CODE_MAP: dict[str, tuple[type[ExchangeError], str]] = {
    "50119": (
        KeyNotInRegionError,
        "says the API key{account} does not exist on this regional host",
    ),
    "50105": (WrongPassphraseError, "rejected the passphrase{account}"),
    "50113": (InvalidSignatureError, "rejected the signature{account}: the secret key is wrong"),
    "50111": (InvalidKeyError, "does not know the API key{account}"),
    "50110": (
        IpNotAllowedError,
        "refused the request{account}: this IP address is not on the key's whitelist",
    ),
    "50102": (ClockSkewError, "refused the request timestamp{account} as expired"),
    "50101": (
        EnvironmentMismatchError,
        "says the API key{account} does not match the environment "
        "(a demo key used live, or a live key used in demo mode)",
    ),
    "50120": (PermissionDeniedError, "refused the request{account}: the key lacks the permission"),
    "50030": (PermissionDeniedError, "refused the request{account}: the key lacks the permission"),
    "50011": (RateLimitedError, "is rate limiting the API key{account}"),
    "50001": (ExchangeUnavailableError, "is temporarily unavailable (maintenance){account}"),
    "50004": (ExchangeUnavailableError, "timed out handling the request{account}"),
    "50005": (ExchangeUnavailableError, "says its API is offline{account}"),
    "50013": (ExchangeUnavailableError, "says its systems are busy{account}"),
    "50026": (ExchangeUnavailableError, "had a system error{account}"),
    "50038": (ExchangeUnsupportedError, "does not offer this in demo trading{account}"),
    "50100": (ExchangeAuthError, "says the API key{account} is frozen"),
    "50103": (ExchangeAuthError, "got no API key{account}"),
    "50104": (ExchangeAuthError, "got no passphrase{account}"),
    "50106": (ExchangeAuthError, "got no signature{account}"),
    "50107": (ExchangeAuthError, "got no timestamp{account}"),
    "50112": (ExchangeAuthError, "rejected the request timestamp{account} as malformed"),
    "50114": (ExchangeAuthError, "rejected the authorization{account}"),
}

_OKX_HINTS: dict[str, str] = {
    "50100": "The key is frozen by OKX. Contact OKX support or create a new read-only key.",
    "50103": "The API key is empty. Re-enter the key with `keyfolio account add`.",
    "50104": "The passphrase is empty. Re-enter the key with its passphrase.",
    "50038": "Demo trading does not offer this; the source is skipped.",
}

_CLASS_SUMMARY: dict[type[ExchangeError], str] = {
    ClockSkewError: "refused the request timestamp",
    PermissionDeniedError: "refused the request: the key lacks a permission",
    ExchangeAuthError: "rejected the API key",
    RateLimitedError: "is rate limiting requests",
    ExchangeUnavailableError: "is unavailable or did not answer",
    ExchangeResponseError: "sent an answer keyfolio cannot read",
    ExchangeUnsupportedError: "does not support this request",
    ExchangeError: "refused the request",
}

_NAMES = {"okx": "OKX", "myokx": "OKX", "okxus": "OKX"}
_HTTP_STATUS = re.compile(r"\b(?:GET|POST|PUT|DELETE|PATCH) \S+ (\d{3})\b")
_QUERY = re.compile(r"\?\S*")
_IP = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:]+)\b")
_DECODER = json.JSONDecoder()


def display_name(exchange_id: str) -> str:
    """A human name for an exchange id: ``OKX`` for the OKX family, else ``Binance``-style."""
    return _NAMES.get(exchange_id, exchange_id.capitalize())


@dataclass(frozen=True)
class _Detail:
    """What can be read from a ccxt exception's message."""

    code: str | None
    msg: str
    http_status: int | None
    text: str


def _parse_body(message: str) -> dict[str, Any] | None:
    start = message.find("{")
    for _ in range(3):
        if start == -1:
            return None
        try:
            body, _end = _DECODER.raw_decode(message, start)
        except ValueError:
            start = message.find("{", start + 1)
            continue
        return body if isinstance(body, dict) else None
    return None


def _body_code(body: dict[str, Any]) -> tuple[str | None, str]:
    code = body.get("code")
    msg = body.get("msg")
    data = body.get("data")
    if str(code) in {"1", "2"} and isinstance(data, list) and data and isinstance(data[0], dict):
        code, msg = data[0].get("sCode", code), data[0].get("sMsg", msg)
    if code is None and isinstance(body.get("error"), list) and body["error"]:
        code = body["error"][0]  # kraken style: {"error": ["EAPI:Invalid key"]}
    return (None if code is None else str(code)), (msg if isinstance(msg, str) else "")


def _parse_detail(exc: BaseException, exchange_id: str) -> _Detail:
    message = str(exc)
    status_match = _HTTP_STATUS.search(message)
    status = int(status_match.group(1)) if status_match else None
    body = _parse_body(message)
    code, msg = _body_code(body) if body is not None else (None, "")
    text = _QUERY.sub("", message)
    if text.startswith(exchange_id + " "):
        text = text[len(exchange_id) + 1 :]
    text = " ".join(text.split())
    if len(text) > 300:
        text = text[:297] + "..."
    return _Detail(code=code, msg=msg, http_status=status, text=text)


def _for_account(account: str | None) -> str:
    return f" for account '{account}'" if account else ""


def _region_hint(region: Region | None, host: str | None) -> str | None:
    if region is None:
        return None
    others = [r.value for r in Region if r is not region]
    tries = " or ".join(f"--region {r}" for r in others)
    if host and host != region.okx_host:  # an --api-url or KEYFOLIO_OKX_HOSTS override
        return (
            f"This key does not exist on {host}, the host used for region {region.value} "
            "(--api-url or KEYFOLIO_OKX_HOSTS). Check that this host serves the region the key "
            f"was created in, or try {tries}."
        )
    return (
        f"This key does not exist on {region.okx_host} (region {region.value}). Try {tries}. "
        "(my.okx.com accounts are eea, app.okx.com accounts are us.)"
    )


def _okx_error(
    detail: _Detail, *, account: str | None, region: Region | None, host: str | None
) -> ExchangeError | None:
    if detail.code is None or detail.code not in OKX_CODE_MAP:
        return None
    cls, what = OKX_CODE_MAP[detail.code]
    said = detail.msg.strip().rstrip(".")
    said = f": {said}" if said else ""
    message = f"OKX {what.format(account=_for_account(account))} (code {detail.code}{said})."
    hint = _OKX_HINTS.get(detail.code)
    if cls is KeyNotInRegionError:
        hint = _region_hint(region, host)
    elif cls is IpNotAllowedError:
        ip = _IP.search(detail.msg)
        if ip:
            hint = (
                f"OKX saw this machine as {ip.group(1)}. Add {ip.group(1)} to the key's IP "
                "whitelist in OKX API Management, or use a read-only key without IP binding."
            )
    return cls(message, hint=hint, exchange_code=detail.code)


def _ccxt_class(exc: BaseException) -> type[ExchangeError] | None:
    for klass in type(exc).__mro__:
        if klass.__module__.startswith("ccxt") and klass.__name__ in CCXT_ERROR_MAP:
            return CCXT_ERROR_MAP[klass.__name__]
    return None


def _is_ccxt_error(exc: BaseException) -> bool:
    return any(k.__module__.startswith("ccxt") for k in type(exc).__mro__)


def _foreign_class(exc: BaseException) -> type[ExchangeError] | None:
    """Non-ccxt exceptions that can escape a ccxt call: timeouts and network errors."""
    if isinstance(exc, TimeoutError | ConnectionError):
        return ExchangeUnavailableError
    for klass in type(exc).__mro__:
        if klass.__module__.startswith("aiohttp") and klass.__name__ == "ClientError":
            return ExchangeUnavailableError
    return None


def translate_error(
    exc: BaseException,
    exchange_id: str,
    *,
    account: str | None = None,
    region: Region | None = None,
    host: str | None = None,
) -> ExchangeError | None:
    """The keyfolio error for a ccxt (or network) exception, or None if it is not one of those.

    ``region`` and ``host`` only sharpen the hint of an OKX wrong-region error.
    """
    if _is_ccxt_error(exc):
        cls = _ccxt_class(exc) or ExchangeError
    else:
        foreign = _foreign_class(exc)
        if foreign is None:
            return None
        cls = foreign
    detail = _parse_detail(exc, exchange_id)
    if exchange_id in OKX_EXCHANGE_IDS:
        okx = _okx_error(detail, account=account, region=region, host=host)
        if okx is not None:
            return okx
    if detail.http_status == 429:
        cls = RateLimitedError
    elif detail.http_status == 404 or detail.code == "404":
        cls = ExchangeUnsupportedError
    name = display_name(exchange_id)
    summary = next(text for klass, text in _CLASS_SUMMARY.items() if issubclass(cls, klass))
    kind = type(exc).__name__
    message = f"{name} {summary}{_for_account(account)} ({kind}: {detail.text or 'no details'})."
    code = detail.code or (f"HTTP {detail.http_status}" if detail.http_status else None)
    return cls(message, exchange_code=code)


@contextmanager
def map_ccxt_errors(
    exchange_id: str,
    *,
    account: str | None = None,
    region: Region | None = None,
    host: str | None = None,
) -> Iterator[None]:
    """Translate ccxt and network exceptions raised in the block into keyfolio errors.

    keyfolio's own errors and unrelated exceptions (bugs) pass through unchanged.
    The translated error is raised ``from`` the original.
    """
    try:
        yield
    except KeyfolioError:
        raise
    except Exception as exc:  # the one translation point; anything it does not know re-raises
        translated = translate_error(exc, exchange_id, account=account, region=region, host=host)
        if translated is None:
            raise
        raise translated from exc
