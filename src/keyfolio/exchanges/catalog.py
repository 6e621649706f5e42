"""What keyfolio knows about each exchange: credentials, sources, permission check.

First-class venues answer from their own :class:`~keyfolio.exchanges.venue.VenueInfo` without
importing ccxt (``keyfolio account add binance`` stays fast); other ccxt exchanges import ccxt
lazily. :func:`list_exchanges` is only for ``keyfolio exchanges``: it builds every ccxt exchange
once (about 0.15 s).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cache
from typing import Any

from keyfolio.domain.balances import Source
from keyfolio.errors import ExchangeUnsupportedError
from keyfolio.exchanges.venue import VenueInfo
from keyfolio.exchanges.venues import FIRST_CLASS, first_class, venue_info

__all__ = [
    "ExchangeInfo",
    "credential_label",
    "exchange_info",
    "list_exchanges",
]

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


@dataclass(frozen=True)
class ExchangeInfo:
    """One exchange as keyfolio supports it.

    ``first_class`` venues read every balance source, check the key's permissions before
    anything is stored, import trade history and stream balances; the others read ccxt's one
    balance through the generic connector and say so.
    """

    id: str
    name: str
    required_credentials: tuple[str, ...]
    has_permission_check: bool
    sources: tuple[Source, ...]
    verified_offline: bool  # tested end to end against keyfolio's own sandbox
    first_class: bool = False
    source_labels: tuple[str, ...] = ()
    key_guide: str = ""
    regions: tuple[str, ...] = ("global",)
    multiline_secret: bool = False
    alias_of: str | None = None
    """The venue an alias id names (``myokx`` is OKX in the EEA)."""
    live: str = "polling"
    """How ``watch`` and ``serve`` follow the balances: ``WebSocket`` or ``polling``."""


def _first_class_info(exchange_id: str, venue: VenueInfo) -> ExchangeInfo:
    fixed = venue.aliases.get(exchange_id)
    name = venue.name if fixed is None else f"{venue.name} ({fixed.value.upper()})"
    return ExchangeInfo(
        id=exchange_id,
        name=name,
        required_credentials=venue.credentials,
        has_permission_check=True,
        sources=venue.source_kinds,
        verified_offline=True,
        first_class=True,
        source_labels=tuple(info.label for info in venue.sources),
        key_guide=venue.key_guide,
        regions=tuple(region.value for region in venue.regions),
        multiline_secret=venue.multiline_secret,
        alias_of=venue.id if fixed is not None else None,
        live="WebSocket" if venue.streams else "polling",
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
    venue = venue_info(exchange_id)
    if venue is not None:
        return _first_class_info(exchange_id, venue)
    if exchange_id not in _ccxt_ids():
        raise _unknown(exchange_id)
    import ccxt

    return _generic_info(exchange_id, getattr(ccxt, exchange_id)())


def list_exchanges() -> list[ExchangeInfo]:
    """Every ccxt exchange id: first-class venues (and their aliases) first, then the rest."""
    ids: list[str] = []
    for venue in first_class():
        ids += [venue.id, *venue.aliases]
    ids += [i for i in _ccxt_ids() if i not in ids and i not in FIRST_CLASS]
    return [exchange_info(i) for i in ids]


def credential_label(field: str, exchange_id: str) -> str:
    """How the exchange's website names a credential field (OKX's ``password`` is Passphrase)."""
    venue = venue_info(exchange_id)
    if venue is not None and field in venue.labels:
        return venue.labels[field]
    return _GENERIC_LABELS.get(field, field)
