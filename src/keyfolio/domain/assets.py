"""Asset identity: one canonical code per asset, and the rules that map each venue's codes onto it.

Every venue names some assets its own way: Kraken's ``XXBT`` is BTC, Coinbase's ``CGLD`` is CELO,
and staked or Earn balances carry a mark beside the asset (Kraken ``ETH2.S``, ``USDT.F``) or in
front of it (Binance ``LDBTC``, the Simple Earn mirror). A venue module declares its table as
:class:`AssetRule` rows; :class:`AssetMap` applies them, after the user's own overrides
(``keyfolio asset alias VENUE CODE ASSET``).

Rules map only codes that name the same asset. A leveraged token (``BTC3L``) or a liquid-staking
token (``CBETH``, ``BBSOL``) is its own asset with its own price; a real ticker that merely starts
with a prefix (``LDO``) is not a prefixed code; an unknown code is kept under its own name.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from keyfolio.domain.balances import Source

__all__ = ["USD", "USD_STABLECOINS", "AssetMap", "AssetRule", "Resolved"]

USD = "USD"
"""The currency every value is in."""

USD_STABLECOINS: tuple[str, ...] = ("USDT", "USDC", "DAI", "FDUSD", "TUSD", "USDP", "PYUSD", "BUSD")
"""The USD stablecoins, in the order their prices chain (docs/analytics.md, "Prices"): each one
is priced from its USD market, else from its market against an earlier one, else at par."""


@dataclass(frozen=True)
class AssetRule:
    """One row of a venue's table: an exact code, a prefix or a suffix.

    * exact: ``AssetRule(code="XXBT", asset="BTC")``;
    * suffix: ``AssetRule(suffix=".S", source=Source.STAKED)``: ``DOT.S`` is DOT, held in the
      staked source; the part before the suffix is resolved again (``XBT.M`` -> BTC);
    * prefix: ``AssetRule(prefix="LD", source=Source.SAVINGS)``: ``LDBTC`` is BTC held in Simple
      Earn, but only when the rest is an asset the venue lists and the whole code is not one.
    """

    code: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    asset: str | None = None
    source: Source | None = None
    note: str = ""

    def __post_init__(self) -> None:
        kinds = [self.code, self.prefix, self.suffix]
        if sum(kind is not None for kind in kinds) != 1:
            raise ValueError("an AssetRule has exactly one of code, prefix or suffix")
        if self.code is not None and self.asset is None:
            raise ValueError(f"the exact rule for {self.code!r} needs an asset")


@dataclass(frozen=True)
class Resolved:
    """A venue code resolved: the canonical asset, and the source it belongs in if the code says."""

    asset: str
    source: Source | None = None


class AssetMap:
    """Resolves one venue's codes: user overrides first, then the venue's rules.

    ``listed`` are the codes the venue itself lists (its markets' base and quote codes); a prefix
    rule applies only to a code that is not listed and whose rest is.
    """

    def __init__(
        self,
        exchange: str,
        rules: Iterable[AssetRule] = (),
        *,
        overrides: Mapping[str, str] | None = None,
        listed: Collection[str] = (),
    ) -> None:
        self.exchange = exchange
        self.rules = tuple(rules)
        self.overrides = dict(overrides or {})
        self.listed = frozenset(listed)
        self._exact = {rule.code: rule for rule in self.rules if rule.code is not None}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AssetMap):
            return NotImplemented
        return (self.exchange, self.rules, self.overrides, self.listed) == (
            other.exchange, other.rules, other.overrides, other.listed,
        )  # fmt: skip

    def __hash__(self) -> int:
        return hash((self.exchange, self.rules, tuple(sorted(self.overrides.items()))))

    def with_listed(self, listed: Collection[str]) -> AssetMap:
        """The same map, knowing which codes the venue lists."""
        return AssetMap(self.exchange, self.rules, overrides=self.overrides, listed=listed)

    def resolve(self, code: str) -> Resolved:
        """The canonical asset (and source, where the code carries one) of a venue code."""
        return self._resolve(code.strip(), depth=0)

    def asset(self, code: str) -> str:
        """Only the canonical asset of a venue code (history records, markets)."""
        return self.resolve(code).asset

    def _resolve(self, code: str, *, depth: int) -> Resolved:
        if code in self.overrides:
            return Resolved(self.overrides[code])
        exact = self._exact.get(code)
        if exact is not None:
            assert exact.asset is not None
            return Resolved(exact.asset, exact.source)
        if depth < 2:
            for rule in self.rules:
                rest = self._rest(rule, code)
                if rest is not None:
                    inner = self._resolve(rest, depth=depth + 1)
                    return Resolved(inner.asset, rule.source or inner.source)
        return Resolved(code)

    def _rest(self, rule: AssetRule, code: str) -> str | None:
        if rule.suffix is not None and code.endswith(rule.suffix) and len(code) > len(rule.suffix):
            return code[: -len(rule.suffix)]
        if (
            rule.prefix is not None
            and code.startswith(rule.prefix)
            and len(code) > len(rule.prefix)
        ):
            rest = code[len(rule.prefix) :]
            if code not in self.listed and rest in self.listed:
                return rest
        return None
