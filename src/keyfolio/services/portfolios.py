"""Portfolios: create, list, rename, remove (the CLI and the API both call these)."""

from __future__ import annotations

from keyfolio.domain.records import Portfolio
from keyfolio.services.accounts import check_name
from keyfolio.services.context import App

__all__ = ["add_portfolio", "list_portfolios", "remove_portfolio", "rename_portfolio"]


def add_portfolio(app: App, name: str) -> Portfolio:
    """Create an empty portfolio (ConflictError if the name is taken)."""
    check_name(name, what="portfolio")
    with app.db().session() as store:
        return store.add_portfolio(name=name)


def list_portfolios(app: App) -> list[tuple[Portfolio, list[str]]]:
    """Every portfolio with the names of its accounts."""
    with app.db().session(read_only=True) as store:
        portfolios = store.list_portfolios()
        accounts = store.list_accounts()
    return [
        (portfolio, [a.name for a in accounts if a.portfolio == portfolio.name])
        for portfolio in portfolios
    ]


def rename_portfolio(app: App, old: str, new: str) -> None:
    """Rename a portfolio; ``main`` keeps its name."""
    check_name(new, what="portfolio")
    with app.db().session() as store:
        store.rename_portfolio(old=old, new=new)


def remove_portfolio(app: App, name: str) -> None:
    """Remove an empty portfolio (ConflictError while it holds accounts; ``main`` stays)."""
    with app.db().session() as store:
        store.remove_portfolio(name=name)
