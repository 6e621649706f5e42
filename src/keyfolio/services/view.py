"""The portfolio view behind `keyfolio show`: reads the database only, no network.

Everything is ``Decimal``, summed and multiplied exactly in the one money context
(:mod:`keyfolio.domain.money`); :func:`view_to_json` renders decimals as strings. A stored
balance or price outside the money bounds is left out and listed in ``refused``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import Source
from keyfolio.domain.money import (
    ZERO,
    RefusedValue,
    divide,
    format_amount,
    multiply,
    total,
)
from keyfolio.domain.records import Price, SourceState
from keyfolio.pricing.valuation import PAR_SOURCE
from keyfolio.services.bounds import check_balances, check_prices, refused_to_json
from keyfolio.services.context import App

__all__ = [
    "AccountView",
    "Holding",
    "PortfolioView",
    "portfolio_view",
    "source_label",
    "view_to_json",
]


@dataclass(frozen=True)
class SourceAmount:
    account: str
    source: Source
    amount: Decimal
    stale: bool


@dataclass(frozen=True)
class Holding:
    asset: str
    amount: Decimal
    price: Price | None
    value: Decimal | None
    sources: list[SourceAmount]

    @property
    def stale(self) -> bool:
        return any(item.stale for item in self.sources)


@dataclass(frozen=True)
class AccountView:
    spec: AccountSpec
    sources: list[SourceState]


@dataclass(frozen=True)
class PortfolioView:
    portfolio: str
    as_of: datetime | None
    total_value: Decimal
    holdings: list[Holding]
    accounts: list[AccountView]
    other_portfolios: list[str] = field(default_factory=list)
    refused: list[RefusedValue] = field(default_factory=list)
    """Stored balances and prices outside the money bounds, left out of everything above."""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    price_max_age: timedelta = timedelta(hours=1)
    """A price older than this (by its ticker time) is stale: ``KEYFOLIO_PRICE_MAX_AGE_MINUTES``."""

    @property
    def unpriced(self) -> list[str]:
        return [holding.asset for holding in self.holdings if holding.price is None]

    @property
    def prices_as_of(self) -> datetime | None:
        """The time of the oldest price in use (its ticker's own time)."""
        times = [h.price.as_of for h in self.holdings if h.price is not None]
        return min(times) if times else None

    def is_price_stale(self, holding: Holding) -> bool:
        """Whether the holding's price is older than :attr:`price_max_age` (by ticker time)."""
        price = holding.price
        return price is not None and self.now - price.as_of > self.price_max_age

    @property
    def stale_prices(self) -> list[str]:
        """The held assets whose price is stale, in holdings order."""
        return [holding.asset for holding in self.holdings if self.is_price_stale(holding)]

    @property
    def has_stale_prices(self) -> bool:
        return any(self.is_price_stale(holding) for holding in self.holdings)

    @property
    def at_par(self) -> list[str]:
        """The held stablecoins priced at par (assumed 1:1: no linked venue has a market)."""
        return [h.asset for h in self.holdings if h.price and h.price.source == PAR_SOURCE]

    @property
    def is_partial(self) -> bool:
        return any(
            view.spec.import_balance and view.spec.status in {"partial", "failed"}
            for view in self.accounts
        )

    def share(self, holding: Holding) -> Decimal | None:
        """The holding's percent of the total, rounded half-even to 0.1 (None if unpriced)."""
        if holding.value is None or self.total_value == ZERO:
            return None
        return divide(multiply(holding.value, _HUNDRED), self.total_value, quantum=_SHARE)


_HUNDRED = Decimal(100)
_SHARE = Decimal("0.1")


def source_label(exchange: str, source: Source) -> str:
    """How the exchange itself names a balance source ("Spot", "Simple Earn Flexible", ...).

    Here, not in ``services.accounts``: `keyfolio show` needs the labels, not the account
    use cases (their imports of the history import, pricing and snapshots)."""
    from keyfolio.exchanges.venues import venue_info

    venue = venue_info(exchange)
    return venue.label_of(source) if venue is not None else source.label


def portfolio_view(
    app: App, *, portfolio: str = "main", now: datetime | None = None
) -> PortfolioView:
    """Build the view of one portfolio from the database; prices are judged stale at ``now``."""
    with app.db().session(read_only=True) as store:
        store.get_portfolio(name=portfolio)
        accounts = store.list_accounts(portfolio=portfolio)
        stored = store.balances(portfolio=portfolio)
        stored_prices = store.prices()
        states = store.source_states()
        others = sorted({spec.portfolio for spec in store.list_accounts()} - {portfolio})
    rows, refused = check_balances(stored, {spec.name: spec.exchange for spec in accounts})
    prices, refused_prices = check_prices(stored_prices)
    by_asset: dict[str, list[SourceAmount]] = defaultdict(list)
    for row in rows:
        by_asset[row.asset].append(SourceAmount(row.account, row.source, row.amount, row.stale))
    holdings = []
    for asset, items in by_asset.items():
        amount = total(item.amount for item in items)
        price = prices.get(asset)
        value = multiply(amount, price.usd) if price is not None else None
        holdings.append(Holding(asset, amount, price, value, items))
    holdings.sort(key=lambda h: (h.value is None, (h.value or ZERO).copy_negate(), h.asset))
    held = {holding.asset for holding in holdings}
    states_by_account: dict[str, list[SourceState]] = defaultdict(list)
    for state in states:
        states_by_account[state.account].append(state)
    syncs = [spec.last_sync for spec in accounts if spec.last_sync and spec.import_balance]
    return PortfolioView(
        portfolio=portfolio,
        as_of=max(syncs) if syncs else None,
        total_value=total(h.value for h in holdings if h.value is not None),
        holdings=holdings,
        accounts=[AccountView(spec, states_by_account.get(spec.name, [])) for spec in accounts],
        other_portfolios=others,
        refused=refused + [item for item in refused_prices if item.asset in held],
        now=now or datetime.now(UTC),
        price_max_age=timedelta(minutes=app.settings.price_max_age_minutes),
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _dec(value: Decimal | None) -> str | None:
    return format_amount(value) if value is not None else None


def view_to_json(view: PortfolioView) -> dict[str, Any]:
    """The documented `keyfolio show --json` shape, decimals as strings."""
    return {
        "portfolio": view.portfolio,
        "currency": "USD",
        "as_of": _iso(view.as_of),
        "total_value": _dec(view.total_value),
        "unpriced": view.unpriced,
        "stale_prices": view.stale_prices,
        "holdings": [
            {
                "asset": holding.asset,
                "amount": _dec(holding.amount),
                "price": _dec(holding.price.usd) if holding.price else None,
                "price_source": holding.price.source if holding.price else None,
                "price_as_of": _iso(holding.price.as_of) if holding.price else None,
                "price_stale": view.is_price_stale(holding),
                "value": _dec(holding.value),
                "sources": [
                    {
                        "account": item.account,
                        "source": item.source.value,
                        "amount": _dec(item.amount),
                    }
                    for item in holding.sources
                ],
            }
            for holding in view.holdings
        ],
        "accounts": [
            {
                "name": account.spec.name,
                "exchange": account.spec.exchange,
                "region": account.spec.region.value,
                "import_balance": account.spec.import_balance,
                "status": account.spec.status,
                "last_sync": _iso(account.spec.last_sync),
                "sources": [
                    {
                        "source": state.source.value,
                        "status": state.status.value,
                        "error": state.error,
                        "hint": state.hint,
                    }
                    for state in account.sources
                ],
            }
            for account in view.accounts
        ],
        "refused": refused_to_json(view.refused),
    }
