"""What keyfolio knows about each exchange: credentials, sources, hosts.

OKX is answered without importing ccxt (``keyfolio account add okx`` stays fast); other exchanges
import ccxt lazily. :func:`list_exchanges` is only for ``keyfolio exchanges``: it builds every
ccxt exchange once (about 0.15 s).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from typing import Any

from keyfolio.domain.accounts import Region
from keyfolio.domain.balances import Source
from keyfolio.errors import ExchangeUnsupportedError
from keyfolio.exchanges.errors import OKX_EXCHANGE_IDS

__all__ = [
    "OKX_SOURCES",
    "ExchangeInfo",
    "credential_label",
    "exchange_info",
    "list_exchanges",
    "region_host",
    "region_ws_url",
]

_WS_URLS: dict[Region, str] = {
    Region.GLOBAL: "wss://ws.okx.com:8443/ws/v5",
    Region.EEA: "wss://wseea.okx.com:8443/ws/v5",
    Region.US: "wss://wsus.okx.com:8443/ws/v5",
}
_OKX_NAMES = {"okx": "OKX", "myokx": "OKX (EEA, my.okx.com)", "okxus": "OKX (US, app.okx.com)"}
_OKX_LABELS = {"apiKey": "API key", "secret": "Secret key", "password": "Passphrase"}
_GENERIC_LABELS = {
    "apiKey": "API key",
    "secret": "Secret",
    "password": "Password",
    "uid": "User ID",
    "login": "Login",
    "twofa": "2FA secret",
    "privateKey": "Private key",
    "walletAddress": "Wallet address",
    "token": "Token",
    "accountId": "Account ID",
}
OKX_SOURCES = (Source.TRADING, Source.FUNDING, Source.SAVINGS, Source.ONCHAIN_EARN)


@dataclass(frozen=True)
class ExchangeInfo:
    """One exchange as keyfolio supports it."""

    id: str
    name: str
    required_credentials: tuple[str, ...]
    has_permission_check: bool
    sources: tuple[Source, ...]
    verified_offline: bool  # tested end to end against keyfolio's own sandbox


def region_host(region: Region) -> str:
    """OKX's REST base URL for a region: ``https://www.okx.com``, ``https://eea.okx.com``, ..."""
    return f"https://{Region(region).okx_host}"


def region_ws_url(region: Region) -> str:
    """OKX's WebSocket base URL for a region (ccxt appends ``/public`` or ``/private``)."""
    return _WS_URLS[Region(region)]


def _okx_info(exchange_id: str) -> ExchangeInfo:
    return ExchangeInfo(
        id=exchange_id,
        name=_OKX_NAMES[exchange_id],
        required_credentials=("apiKey", "secret", "password"),
        has_permission_check=True,
        sources=OKX_SOURCES,
        verified_offline=True,
    )


def _generic_info(exchange_id: str, exchange: Any) -> ExchangeInfo:
    required = tuple(name for name, needed in exchange.requiredCredentials.items() if needed)
    return ExchangeInfo(
        id=exchange_id,
        name=str(exchange.name),
        required_credentials=required,
        has_permission_check=False,
        sources=(Source.TRADING,),
        verified_offline=False,
    )


@cache
def _ccxt_ids() -> tuple[str, ...]:
    import ccxt

    return tuple(ccxt.exchanges)


def _unknown(exchange_id: str) -> ExchangeUnsupportedError:
    close = difflib.get_close_matches(exchange_id.lower(), _ccxt_ids(), n=3, cutoff=0.6)
    suggestion = f" Did you mean {', '.join(close)}?" if close else ""
    return ExchangeUnsupportedError(
        f"keyfolio does not know the exchange '{exchange_id}'.{suggestion}",
        hint="Run `keyfolio exchanges` to list the supported exchange ids (ccxt's ids).",
    )


@cache
def exchange_info(exchange_id: str) -> ExchangeInfo:
    """What keyfolio knows about one exchange; ExchangeUnsupportedError if the id is unknown."""
    if exchange_id in OKX_EXCHANGE_IDS:
        return _okx_info(exchange_id)
    if exchange_id not in _ccxt_ids():
        raise _unknown(exchange_id)
    import ccxt

    return _generic_info(exchange_id, getattr(ccxt, exchange_id)())


def list_exchanges() -> list[ExchangeInfo]:
    """Every ccxt exchange id, OKX first, the rest in ccxt's (alphabetical) order."""
    ids = [i for i in _ccxt_ids() if i not in OKX_EXCHANGE_IDS]
    okx = [i for i in ("okx", "myokx", "okxus") if i in _ccxt_ids()]
    return [exchange_info(i) for i in okx + ids]


def credential_label(field: str, exchange_id: str) -> str:
    """How the exchange's website names a credential field (``password`` is OKX's Passphrase)."""
    if exchange_id in OKX_EXCHANGE_IDS and field in _OKX_LABELS:
        return _OKX_LABELS[field]
    return _GENERIC_LABELS.get(field, field)
