"""What a first-class venue declares: one :class:`VenueInfo` of data in its own module.

Adding a venue means one connector module (``keyfolio.exchanges.<id>``) that exports ``VENUE``
and its connector class, and one sandbox protocol package. Everything else (the catalog, the
error translation, pricing, the live engine, the faces) reads these tables; an
``if venue == "kraken"`` outside the venue's own module is a smell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from keyfolio.domain.accounts import Region
from keyfolio.domain.assets import AssetRule
from keyfolio.domain.balances import PermissionWords, Source
from keyfolio.errors import ExchangeError

__all__ = ["CodeMap", "IpLimit", "SourceInfo", "VenueInfo"]

CodeMap = Mapping[str, tuple[type[ExchangeError], str]]
"""A venue's error codes -> (keyfolio class, what happened). ``{account}`` becomes
`` for account 'name'`` in the message."""


@dataclass(frozen=True)
class SourceInfo:
    """One balance source of a venue: the common kind, the venue's own name, its endpoint."""

    source: Source
    label: str
    endpoint: str


@dataclass(frozen=True)
class IpLimit:
    """A limit the venue puts on every request from one IP address, whatever the key: at most
    ``limit`` request weight per ``seconds`` on the paths that start with one of ``paths``.

    With ``per_path`` each path has a limit of its own (OKX's public endpoints, Binance's
    ``/sapi``); without it the paths share one. ``weights`` gives a path's weight (exact path,
    no query); any other path weighs 1. ``exempt`` paths are limited otherwise (per account).
    """

    name: str
    paths: tuple[str, ...]
    limit: int
    seconds: float
    per_path: bool = False
    weights: Mapping[str, int] = field(default_factory=dict, hash=False)
    exempt: frozenset[str] = frozenset()

    def covers(self, path: str) -> bool:
        """Whether a request to ``path`` counts against this limit."""
        return path not in self.exempt and path.startswith(self.paths)

    def weight(self, path: str) -> int:
        """What a request to ``path`` costs."""
        return self.weights.get(path, 1)

    def bucket(self, path: str) -> str:
        """The counter a request to ``path`` spends: the limit's, or the path's own."""
        return f"{self.name} {path}" if self.per_path else self.name

    @property
    def heaviest(self) -> int:
        """The largest weight of one request."""
        return max(self.weights.values(), default=1)


@dataclass(frozen=True)
class VenueInfo:
    """Everything keyfolio knows about one first-class venue, as data.

    ``words`` names the venue's key permissions; its ``read`` set is the allowlist: a key is
    stored only when every permission it has is one of those words (the venue's own words).
    ``key_guide`` says where in the venue's API management a read-only key is created; it ends
    every refusal hint.
    """

    id: str
    name: str
    ccxt_id: str
    credentials: tuple[str, ...]
    labels: Mapping[str, str]
    sources: tuple[SourceInfo, ...]
    words: PermissionWords
    key_guide: str
    connector: str
    """``module:Class`` of the connector (imported on first use)."""
    asset_rules: tuple[AssetRule, ...] = ()
    codes: CodeMap = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    """Hints for codes of :attr:`codes` that need more than their class's default."""
    aliases: Mapping[str, Region] = field(default_factory=dict)
    """Other ccxt ids of this venue with a fixed region (``myokx`` is OKX in the EEA)."""
    regions: tuple[Region, ...] = (Region.GLOBAL,)
    has_demo: bool = False
    """The venue has demo-trading keys on separate hosts (OKX ``--demo``)."""
    streams: bool = False
    """A private WebSocket pushes the trading balance (through ccxt.pro)."""
    multiline_secret: bool = False
    """The secret is a multi-line PEM key (Coinbase)."""
    concurrency: int = 8
    """How many accounts of this venue a sync refreshes at once by default: the venue's
    documented limits per key and per IP allow it (``docs/benchmarks.md``, "Concurrency");
    ``KEYFOLIO_SYNC_CONCURRENCY`` overrides it for every venue."""
    hosts: tuple[str, ...] = ()
    """The domains of the venue's REST API (``okx.com`` covers www.okx.com and eea.okx.com):
    hosted mode's shared budgets know the venue of a request by its host (an account's
    ``--api-url`` is known by its account)."""
    ip_limits: tuple[IpLimit, ...] = ()
    """The venue's documented limits per IP address, shared by every worker behind one egress
    IP in hosted mode (:mod:`keyfolio.services.rate_budget`). Limits per key need no sharing:
    one worker at a time syncs an account, and its connector paces the key."""
    exports: str | None = None
    """The module of the venue's own CSV exports (``keyfolio.exchanges.okx_exports``), whose
    ``FORMATS`` ``keyfolio import csv`` recognises (:mod:`keyfolio.exchanges.exports`)."""

    @property
    def source_kinds(self) -> tuple[Source, ...]:
        return tuple(info.source for info in self.sources)

    def label_of(self, source: Source) -> str:
        """The venue's own name for a source kind (the generic name if it has none)."""
        for info in self.sources:
            if info.source is source:
                return info.label
        return source.label

    def credential_label(self, field_name: str) -> str:
        """How the venue's website names a credential field."""
        return self.labels.get(field_name, field_name)
