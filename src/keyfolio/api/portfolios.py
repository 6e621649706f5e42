"""``/api/v1/portfolios`` and the summary (exactly the `keyfolio show --json` document)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from keyfolio.api.deps import StateDep
from keyfolio.api.models import PortfolioCreate, PortfolioOut, PortfolioRename, SummaryOut
from keyfolio.domain.money import format_amount
from keyfolio.services import portfolios as portfolios_service
from keyfolio.services.summary import portfolio_summary
from keyfolio.services.view import portfolio_view

__all__ = ["router"]

router = APIRouter(tags=["portfolios"])

PortfolioQuery = Annotated[str, Query(min_length=1, max_length=64, description="portfolio name")]


def _updated(state: StateDep, portfolio: str, reason: str) -> None:
    state.app.bus.publish(
        "portfolio.updated", {"portfolio": portfolio, "account": None, "reason": reason}
    )


@router.get("/portfolios", response_model=list[PortfolioOut])
def list_portfolios(state: StateDep) -> list[PortfolioOut]:
    """Every portfolio with its number of accounts and total value (null when empty)."""
    app = state.ready()
    out = []
    for portfolio, _ in portfolios_service.list_portfolios(app):
        name = portfolio.name
        view = portfolio_view(app, portfolio=name)
        total = format_amount(view.total_value) if view.accounts else None
        out.append(PortfolioOut(name=name, accounts=len(view.accounts), total_value=total))
    return out


@router.post("/portfolios", status_code=status.HTTP_201_CREATED, response_model=PortfolioOut)
def create_portfolio(body: PortfolioCreate, state: StateDep) -> PortfolioOut:
    """Create an empty portfolio (409 if the name is taken)."""
    portfolio = portfolios_service.add_portfolio(state.ready(), body.name)
    return PortfolioOut(name=portfolio.name, accounts=0, total_value=None)


@router.patch("/portfolios/{name}", response_model=PortfolioOut)
def rename_portfolio(name: str, body: PortfolioRename, state: StateDep) -> PortfolioOut:
    """Rename a portfolio (``main`` keeps its name)."""
    portfolios_service.rename_portfolio(state.ready(), name, body.name)
    _updated(state, body.name, "renamed")
    return PortfolioOut(name=body.name)


@router.delete(
    "/portfolios/{name}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
def remove_portfolio(name: str, state: StateDep) -> Response:
    """Remove an empty portfolio (409 while it holds accounts or for ``main``)."""
    portfolios_service.remove_portfolio(state.ready(), name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _summary(state: StateDep, portfolio: str) -> SummaryOut:
    return SummaryOut.model_validate(portfolio_summary(state.ready(), portfolio=portfolio))


@router.get(
    "/portfolios/{name}/summary", response_model=SummaryOut, response_model_exclude_unset=True
)
def portfolio_summary_route(name: str, state: StateDep) -> SummaryOut:
    """The portfolio's summary: exactly the `keyfolio show --json` document. No network."""
    return _summary(state, name)


@router.get("/summary", response_model=SummaryOut, response_model_exclude_unset=True)
def summary(state: StateDep, portfolio: PortfolioQuery = "main") -> SummaryOut:
    """Alias of ``GET /portfolios/{portfolio}/summary``."""
    return _summary(state, portfolio)
