"""The portfolio summary document: `keyfolio show --json` and `GET /api/v1/.../summary`.

One function builds it for both, so the CLI and the API can never disagree.
"""

from __future__ import annotations

from typing import Any

from keyfolio.domain.money import format_amount, subtract
from keyfolio.services.context import App

__all__ = ["portfolio_summary"]


def portfolio_summary(app: App, *, portfolio: str = "main") -> dict[str, Any]:
    """The documented summary: holdings, accounts, value changes and top gainers/losers.

    Each holding also carries ``change_24h_pct`` (its price against the ticker's open, null
    without one), ``change_24h_basis`` (``24h``: the price 24 hours ago; ``utc_day``: today's
    open at 00:00 UTC, as Kraken's ticker gives it; null without a change) and ``stale`` (some
    of its amount comes from a source that failed).
    """
    from keyfolio.analytics.changes import percent
    from keyfolio.services.analytics import summary_extras
    from keyfolio.services.view import portfolio_view, view_to_json

    view = portfolio_view(app, portfolio=portfolio)
    document = view_to_json(view)
    for holding, row in zip(view.holdings, document["holdings"], strict=True):
        price = holding.price
        pct = None
        if price is not None and price.open24h_usd is not None:
            pct = percent(subtract(price.usd, price.open24h_usd), price.open24h_usd)
        row["change_24h_pct"] = format_amount(pct) if pct is not None else None
        row["change_24h_basis"] = (
            price.open_basis if price is not None and pct is not None else None
        )
        row["stale"] = holding.stale
    return {**document, **summary_extras(app, view)}
