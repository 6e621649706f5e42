"""``/api/v1/history`` (value over time), ``/api/v1/pnl`` (cost basis and P&L), its tax lots
``/api/v1/pnl/lots``, and ``/api/v1/reconcile`` (history against reported balances).

All read the database only (they work while the vault is locked) and call the services that
the CLI uses: :mod:`keyfolio.services.values`, :mod:`keyfolio.services.analytics` and
:mod:`keyfolio.services.reconcile`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from keyfolio.api.deps import StateDep
from keyfolio.api.models import LotsOut, PnlOut, ReconcileOut, ValueSeriesOut

__all__ = ["router"]

router = APIRouter(tags=["analytics"])

Name = Annotated[str, Query(min_length=1, max_length=64)]
OptionalName = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.get("/history", response_model=ValueSeriesOut, response_model_exclude_unset=True)
def values(
    state: StateDep,
    portfolio: Name = "main",
    window: Annotated[
        str, Query(max_length=16, description="1h, 24h, 7d, 30d, 90d, 1y or all")
    ] = "30d",
    account: OptionalName = None,
    asset: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
) -> ValueSeriesOut:
    """The portfolio's value over a window (optionally one account's or one asset's)."""
    from keyfolio.services.values import series_to_json, value_series

    series = value_series(
        state.ready(), portfolio=portfolio, window=window, account=account, asset=asset
    )
    return ValueSeriesOut.model_validate(series_to_json(series))


@router.get("/pnl", response_model=PnlOut, response_model_exclude_unset=True)
def pnl(
    state: StateDep,
    portfolio: Name = "main",
    method: Literal["fifo", "average"] = "fifo",
) -> PnlOut:
    """Cost basis, realized and unrealized P&L per asset, from the imported trade history."""
    from keyfolio.services.analytics import pnl_report, pnl_to_json

    report = pnl_report(state.ready(), portfolio=portfolio, method=method)
    return PnlOut.model_validate(pnl_to_json(report))


@router.get("/pnl/lots", response_model=LotsOut)
def pnl_lots(
    state: StateDep,
    portfolio: Name = "main",
    method: Literal["fifo", "average"] = "fifo",
) -> LotsOut:
    """Tax lots: each disposal with the lots it used; ``total_gain`` is the realized P&L."""
    from keyfolio.services.analytics import lots_report, lots_to_json

    report = lots_report(state.ready(), portfolio=portfolio, method=method)
    return LotsOut.model_validate(lots_to_json(report))


@router.get("/reconcile", response_model=ReconcileOut)
def reconcile(
    state: StateDep,
    portfolio: OptionalName = None,
    account: OptionalName = None,
) -> ReconcileOut:
    """Per account and asset: the reported balance, the one the imported history implies,
    the difference and its likely cause (every exchange account, or those of ``portfolio``,
    or ``account``)."""
    from keyfolio.services.reconcile import reconcile_accounts, reconcile_to_json

    result = reconcile_accounts(state.ready(), account=account, portfolio=portfolio)
    return ReconcileOut.model_validate(reconcile_to_json(result.report))
