"""The portfolio summary document: `keyfolio show --json` and `GET /api/v1/.../summary`.

One function builds it for both, so the CLI and the API can never disagree.
"""

from __future__ import annotations

from typing import Any

from keyfolio.services.context import App

__all__ = ["portfolio_summary"]


def portfolio_summary(app: App, *, portfolio: str = "main") -> dict[str, Any]:
    """The documented summary: holdings, accounts, and (with history) changes and movers."""
    from keyfolio.services.analytics import summary_extras
    from keyfolio.services.view import portfolio_view, view_to_json

    view = portfolio_view(app, portfolio=portfolio)
    return {**view_to_json(view), **summary_extras(app, view)}
