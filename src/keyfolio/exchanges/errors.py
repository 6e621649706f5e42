"""The one place where ccxt exceptions become keyfolio errors.

``CCXT_ERROR_MAP`` maps every class of ``ccxt.base.errors`` (by class name, so this module can be
imported without importing ccxt) to a keyfolio error class. :func:`map_ccxt_errors` walks the
exception's MRO, so the most specific mapping wins.

Before the class map, a first-class venue's own error codes are classified by their code: ccxt
raises most venue errors with the raw JSON body in the message (``okx {"code":"50119",...}``,
``binance {"code":-2015,...}``), and several codes that matter to a tracker (OKX 50119 wrong
region, Binance -2015, Kraken ``EAPI:Invalid signature``) reach ccxt's catch-all ``ExchangeError``
or a misleading class. Each venue's table (``VenueInfo.codes``, data in the venue's module)
gives every code its own class and a specific hint; this module is still the one place where
the translation happens.

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
from typing import TYPE_CHECKING, Any

from keyfolio.domain.accounts import Region
from keyfolio.errors import (
    ClockSkewError,
    ExchangeAuthError,
    ExchangeError,
    ExchangeResponseError,
    ExchangeUnavailableError,
    ExchangeUnsupportedError,
    IpNotAllowedError,
    KeyfolioError,
    KeyNotInRegionError,
    PermissionDeniedError,
    RateLimitedError,
)

if TYPE_CHECKING:
    from keyfolio.exchanges.venue import VenueInfo

__all__ = [
    "CCXT_ERROR_MAP",
    "display_name",
    "map_ccxt_errors",
    "translate_error",
]

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

_HTTP_STATUS = re.compile(r"\b(?:GET|POST|PUT|DELETE|PATCH) \S+ (\d{3})\b|^\w+ (\d{3}) ")
_QUERY = re.compile(r"\?\S*")
_IP = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:]+)\b")
_DECODER = json.JSONDecoder()


def _venue(exchange_id: str) -> VenueInfo | None:
    from keyfolio.exchanges.venues import venue_info

    return venue_info(exchange_id)


def display_name(exchange_id: str) -> str:
    """A human name for an exchange id: the venue's name if first-class, else ``Bitget``-style."""
    venue = _venue(exchange_id)
    return venue.name if venue is not None else exchange_id.capitalize()


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
    code = body.get("code", body.get("retCode"))  # OKX/Binance, Bybit
    msg = body.get("msg", body.get("retMsg"))
    data = body.get("data")
    if str(code) in {"1", "2"} and isinstance(data, list) and data and isinstance(data[0], dict):
        code, msg = data[0].get("sCode", code), data[0].get("sMsg", msg)
    error = body.get("error")
    if code is None and isinstance(error, list) and error:
        code = error[0]  # kraken style: {"error": ["EAPI:Invalid key"]}
    elif code is None and isinstance(error, str) and error:
        code, msg = error, body.get("message", msg)  # coinbase: {"error": "PERMISSION_DENIED"}
    errors = body.get("errors")
    if code is None and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code, msg = errors[0].get("id"), errors[0].get("message", msg)  # coinbase v2
    return (None if code is None else str(code)), (msg if isinstance(msg, str) else "")


def _parse_detail(exc: BaseException, exchange_id: str) -> _Detail:
    message = str(exc)
    status_match = _HTTP_STATUS.search(message)
    status = int(status_match.group(1) or status_match.group(2)) if status_match else None
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


def _venue_error(
    venue: VenueInfo,
    detail: _Detail,
    *,
    account: str | None,
    region: Region | None,
    host: str | None,
) -> ExchangeError | None:
    """The error a venue's own code names (``VenueInfo.codes``), or None for an unknown code.

    An answer without a code in its body (Bybit's 403, Coinbase's text ``Unauthorized``) is
    looked up by its HTTP status, as ``"HTTP 401"``."""
    code = detail.code
    if code is None and detail.http_status is not None:
        code = f"HTTP {detail.http_status}"
    if code is None or code not in venue.codes:
        return None
    cls, what = venue.codes[code]
    said = detail.msg.strip().rstrip(".")
    said = f": {said}" if said else ""
    name = venue.name
    message = f"{name} {what.format(account=_for_account(account))} (code {code}{said})."
    hint = venue.hints.get(code)
    if cls is KeyNotInRegionError:
        hint = _region_hint(region, host)
    elif cls is IpNotAllowedError:
        ip = _IP.search(detail.msg)
        if ip:
            hint = (
                f"{name} saw this machine as {ip.group(1)}. Add {ip.group(1)} to the key's IP "
                f"list in {name} API Management, or use a read-only key without IP binding."
            )
    if cls is RateLimitedError and "banned until" in detail.msg:
        hint = (
            f"{name} has banned this IP address for a while after too many requests "
            f"({detail.msg.strip()}). keyfolio sends nothing to {name} until the ban ends; "
            "sync again later."
        )
    return cls(message, hint=hint, exchange_code=code)


def _ccxt_class(exc: BaseException) -> type[ExchangeError] | None:
    for klass in type(exc).__mro__:
        if klass.__module__.startswith("ccxt") and klass.__name__ in CCXT_ERROR_MAP:
            return CCXT_ERROR_MAP[klass.__name__]
    return None


def _is_ccxt_error(exc: BaseException) -> bool:
    return any(k.__module__.startswith("ccxt") for k in type(exc).__mro__)


def _network_cause(exc: BaseException) -> BaseException | None:
    """The network error under a ccxt error that ccxt did not classify (it wraps every aiohttp
    ``ClientError`` but a connection one, e.g. a body cut short by a reset, in a bare
    ``ExchangeError``): the request never got a whole answer, so it is a temporary failure."""
    cause = exc.__cause__
    if _is_ccxt_error(exc) and _ccxt_class(exc) is ExchangeError and cause is not None:
        return cause if _foreign_class(cause) is not None else None
    return None


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
    cls: type[ExchangeError]
    cause = _network_cause(exc)
    if cause is not None:  # ccxt's bare ExchangeError around a network failure (a reset body)
        cls, exc = ExchangeUnavailableError, cause
    elif _is_ccxt_error(exc):
        cls = _ccxt_class(exc) or ExchangeError
    else:
        foreign = _foreign_class(exc)
        if foreign is None:
            return None
        cls = foreign
    detail = _parse_detail(exc, exchange_id)
    venue = _venue(exchange_id)
    if venue is not None:
        known = _venue_error(venue, detail, account=account, region=region, host=host)
        if known is not None:
            return known
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
