"""Balance sources, per-source results and key permissions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

__all__ = ["KeyInfo", "Source", "SourceResult", "SourceStatus"]


class Source(StrEnum):
    """Where on the exchange a balance sits."""

    TRADING = "trading"
    FUNDING = "funding"
    SAVINGS = "savings"  # OKX Simple Earn (flexible)
    ONCHAIN_EARN = "onchain_earn"  # OKX On-chain Earn (staking / DeFi)

    @property
    def label(self) -> str:
        return {
            Source.TRADING: "Trading",
            Source.FUNDING: "Funding",
            Source.SAVINGS: "Simple Earn",
            Source.ONCHAIN_EARN: "On-chain Earn",
        }[self]


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
class KeyInfo:
    """What an exchange says about an API key."""

    permissions: frozenset[str]
    ip_whitelist: tuple[str, ...] = ()
    uid: str = ""
    label: str = ""
    verified: bool = True  # False where the exchange offers no permission check

    @property
    def is_read_only(self) -> bool:
        return not (self.permissions & {"trade", "withdraw"})

    @property
    def is_ip_bound(self) -> bool:
        return bool(self.ip_whitelist)
