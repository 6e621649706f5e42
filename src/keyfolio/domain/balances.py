"""Balance sources, per-source results and key permissions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

__all__ = ["KeyInfo", "PermissionWords", "Source", "SourceResult", "SourceStatus"]


class Source(StrEnum):
    """Where on an exchange a balance sits: one common vocabulary for every venue.

    Each venue names its own sources (Binance "Spot", Bybit "Unified Trading"); those names are
    the venue's labels (``keyfolio.exchanges`` catalog), these are the kinds.
    """

    TRADING = "trading"  # the account trades from it: OKX trading, Binance spot, Bybit unified
    FUNDING = "funding"  # deposits land here: OKX/Binance funding, Bybit fund
    SAVINGS = "savings"  # flexible earn: OKX/Binance Simple Earn flexible, Bybit Flexible Saving
    LOCKED_EARN = "locked_earn"  # fixed-term earn: Binance Simple Earn locked
    ONCHAIN_EARN = "onchain_earn"  # staking / DeFi products: OKX On-chain Earn, Bybit OnChain
    STAKED = "staked"  # staked balances beside the asset: Kraken ``.S``, Coinbase "Staked X"

    @property
    def label(self) -> str:
        """The generic name of the kind (a venue may call it otherwise)."""
        return _LABELS[self]


_LABELS = {
    Source.TRADING: "Trading",
    Source.FUNDING: "Funding",
    Source.SAVINGS: "Simple Earn",
    Source.LOCKED_EARN: "Locked Earn",
    Source.ONCHAIN_EARN: "On-chain Earn",
    Source.STAKED: "Staked",
}


class SourceStatus(StrEnum):
    """What happened when a source was last read."""

    OK = "ok"
    FAILED = "failed"
    NOT_PERMITTED = "not permitted"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class SourceResult:
    """One source of one account after a fetch.

    ``amounts`` is only meaningful when ``status`` is OK; on failure the caller
    keeps the last good amounts and marks them stale.
    """

    source: Source
    status: SourceStatus
    amounts: Mapping[str, Decimal] = field(default_factory=dict)
    error: str | None = None
    hint: str | None = None
    error_code: str | None = None

    @property
    def is_ok(self) -> bool:
        return self.status is SourceStatus.OK


@dataclass(frozen=True)
class PermissionWords:
    """How a venue names API key permissions; the data sits in the venue's connector module.

    ``read`` is the **allowlist**: the words that only allow reading. A key is stored only if
    every one of its permissions is in it, so a word an exchange adds later is refused until
    keyfolio knows it is harmless. ``labels`` gives each word the venue documents the name
    its website shows (``{"trade": "Trade"}``); a word missing there is one keyfolio has never
    seen.
    """

    read: frozenset[str]
    labels: Mapping[str, str] = field(default_factory=dict)

    def describe(self, word: str) -> str:
        """``'trade' (Trade)`` for a documented word, ``'x' (unknown to keyfolio)`` otherwise."""
        label = self.labels.get(word)
        return f"'{word}' ({label})" if label else f"'{word}' (unknown to keyfolio)"


@dataclass(frozen=True)
class KeyInfo:
    """What an exchange says about an API key.

    ``permissions`` are the exchange's own words. ``verified`` is False where the exchange
    offers no permission check (then nothing is known about them); a verified key carries its
    venue's :class:`PermissionWords`. ``ip_reported`` is False where the exchange does not say
    whether the key is bound to IP addresses (Coinbase): the binding is then unknown, not absent.
    """

    permissions: frozenset[str]
    ip_whitelist: tuple[str, ...] = ()
    ip_restricted: bool = False  # bound to IP addresses the exchange does not list (Binance)
    uid: str = ""
    label: str = ""
    verified: bool = True
    words: PermissionWords | None = None
    warnings: tuple[str, ...] = ()
    """What the check could not establish (an ambiguous probe, a permission taken as read-only
    by its name): shown at link and by doctor, never dropped."""
    ip_reported: bool = True
    """False when the venue does not say whether the key is bound to an IP (Coinbase)."""

    def __post_init__(self) -> None:
        if self.verified and self.words is None:
            raise ValueError("a verified KeyInfo needs its venue's PermissionWords")

    @property
    def refused_permissions(self) -> frozenset[str]:
        """The permissions outside the venue's read allowlist (none known when unverified)."""
        if self.words is None:
            return frozenset()
        return self.permissions - self.words.read

    @property
    def is_read_only(self) -> bool:
        """Verified, with at least one permission, and every one on the read allowlist."""
        return self.verified and bool(self.permissions) and not self.refused_permissions

    @property
    def is_ip_bound(self) -> bool:
        return bool(self.ip_whitelist) or self.ip_restricted
