"""Asset identity: the venues' own code tables and the user's overrides (``keyfolio asset``).

Every venue's codes map onto one canonical code per asset (Kraken ``XXBT`` is BTC, Binance
``LDBTC`` is BTC held in Simple Earn). Each first-class venue documents its table in its own
module; ``keyfolio asset alias VENUE CODE ASSET`` adds an override, which wins over the table.
A code no table or override names is kept under its own name, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keyfolio.errors import UsageError
from keyfolio.services.context import App

if TYPE_CHECKING:
    from keyfolio.exchanges.pool import ConnectorPool

__all__ = ["AliasRow", "add_alias", "connector_pool", "list_aliases", "remove_alias"]

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9.]{0,63}$")


@dataclass(frozen=True)
class AliasRow:
    """One row of the identity table: a venue's rule, or the user's override."""

    venue: str
    code: str
    asset: str
    source: str | None
    origin: str  # "venue" (the venue's documented table) or "user"
    note: str = ""


def _venue_id(venue: str) -> str:
    from keyfolio.exchanges.catalog import exchange_info
    from keyfolio.exchanges.venues import venue_info

    exchange_info(venue)  # ExchangeUnsupportedError for an unknown id
    found = venue_info(venue)
    return found.id if found is not None else venue


def _code(value: str, what: str) -> str:
    code = value.strip().upper()
    if not _CODE.match(code):
        raise UsageError(
            f"{value!r} is not an asset code",
            hint=f"Give the {what} as the venue writes it, e.g. XXBT or LDBTC.",
        )
    return code


def overrides(app: App) -> dict[str, dict[str, str]]:
    """The user's overrides per venue: ``{venue: {code: asset}}``."""
    with app.db().session(read_only=True) as store:
        rows = store.aliases.all()
    found: dict[str, dict[str, str]] = {}
    for (venue, code), asset in rows.items():
        found.setdefault(venue, {})[code] = asset
    return found


def connector_pool(app: App, **options: Any) -> ConnectorPool:
    """A connector pool that knows the user's asset overrides (``async with`` it)."""
    from keyfolio.exchanges.pool import ConnectorPool

    if app.rate_budget is not None and "gate" not in options:
        options["gate"] = app.rate_budget
    return ConnectorPool(app.settings, aliases=overrides(app), **options)


def add_alias(app: App, venue: str, code: str, asset: str) -> AliasRow:
    """Map ``code`` of ``venue`` to ``asset`` from the next sync on."""
    venue_id = _venue_id(venue.lower())
    row = AliasRow(venue_id, _code(code, "venue code"), _code(asset, "asset"), None, "user")
    with app.db().session() as store:
        store.aliases.set(exchange=row.venue, code=row.code, asset=row.asset)
    return row


def remove_alias(app: App, venue: str, code: str) -> None:
    """Forget the user's override of ``code`` (the venue's own table applies again)."""
    with app.db().session() as store:
        store.aliases.remove(exchange=_venue_id(venue.lower()), code=_code(code, "venue code"))


def list_aliases(app: App) -> list[AliasRow]:
    """Every first-class venue's documented rules, then the user's overrides."""
    from keyfolio.exchanges.venues import first_class

    rows: list[AliasRow] = []
    for venue in first_class():
        for rule in venue.asset_rules:
            pattern = rule.code or (f"{rule.prefix}*" if rule.prefix else f"*{rule.suffix}")
            asset = rule.asset or "(the rest of the code)"
            source = rule.source.value if rule.source is not None else None
            rows.append(AliasRow(venue.id, pattern, asset, source, "venue", rule.note))
    for venue_id, codes in sorted(overrides(app).items()):
        for code, asset in sorted(codes.items()):
            rows.append(AliasRow(venue_id, code, asset, None, "user"))
    return rows
