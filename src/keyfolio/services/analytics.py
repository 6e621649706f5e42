"""Analytics use cases: P/L of a portfolio, value changes, top movers, the `show` extras.

Reads the database only (no network). The arithmetic lives in ``keyfolio.analytics``; this
module gathers its inputs:

- trades and transfers of the portfolio's accounts whose balances count (``import_balance``
  on), the same accounts the holdings come from;
- holdings from :func:`keyfolio.services.view.portfolio_view`, prices from ``store.prices()``;
- the USD rate of a non-USD quote at a fill (``usd_rate``): the nearest of the portfolio's own
  fills of that asset against cash within :data:`RATE_WINDOW`, else the asset's last snapshot
  price at or before the fill, else none (the acquired amount is then flagged).
"""

from __future__ import annotations

import csv
import io
import logging
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyfolio.analytics.changes import Change, ChangeBasis, change_between, open24h_value
from keyfolio.analytics.lots import LOT_COLUMNS, LotsReport, LotUse, total_gain
from keyfolio.analytics.movers import (
    DEFAULT_THRESHOLD,
    HeldAsset,
    Mover,
    PnlMover,
    pnl_movers,
    top_movers,
)
from keyfolio.analytics.pnl import (
    CASH_ASSETS,
    SPOT_TYPES,
    CostMethod,
    FlagKind,
    PnlReport,
    compute_pnl,
)
from keyfolio.analytics.windows import WINDOWS, parse_window
from keyfolio.domain.history import Trade
from keyfolio.domain.money import PRICE, format_amount, round_to
from keyfolio.errors import UsageError
from keyfolio.oserrors import translate_os_error
from keyfolio.services.bounds import check_prices, check_trades, check_transfers, refused_to_json
from keyfolio.services.context import App
from keyfolio.services.view import PortfolioView, portfolio_view

if TYPE_CHECKING:
    from keyfolio.storage import Store

__all__ = [
    "BASIS_FLAGS",
    "RATE_WINDOW",
    "RECONCILE_COMMAND",
    "change_to_json",
    "changes",
    "lots_report",
    "lots_to_json",
    "movers",
    "parse_method",
    "pnl_rankings_json",
    "pnl_report",
    "pnl_to_json",
    "summary_extras",
    "write_lots_csv",
]

logger = logging.getLogger(__name__)

#: A fill of the asset against cash this close to a fill gives its USD rate.
RATE_WINDOW = timedelta(hours=1)
#: USD figures in JSON are rounded half-even to this (amounts are exact): an explicit rounding.
USD_QUANTUM = Decimal("1e-12")
MOVERS_WINDOW = "24h"


#: Flags of amounts whose basis the imported history does not explain: `keyfolio reconcile`
#: shows which balances differ from the history, and why.
BASIS_FLAGS = frozenset(
    {
        FlagKind.HELD_BEFORE_HISTORY,
        FlagKind.UNKNOWN_BASIS_DEPOSIT,
        FlagKind.SOLD_UNKNOWN_BASIS,
        FlagKind.SOLD_BEYOND_HISTORY,
        FlagKind.HOLDINGS_BELOW_HISTORY,
    }
)
RECONCILE_COMMAND = "keyfolio reconcile"


def parse_method(text: str) -> CostMethod:
    """``fifo`` or ``average`` (case-insensitive); UsageError naming the choices otherwise."""
    try:
        return CostMethod(text.strip().lower())
    except ValueError:
        raise UsageError(
            f"Unknown cost method {text!r}.",
            hint="Use --method fifo (the default) or --method average.",
        ) from None


class _Rates:
    """``usd_rate(asset, at)`` from own fills against cash, then snapshot prices."""

    def __init__(self, store: Store, trades: Sequence[Trade]) -> None:
        self._store = store
        self._fills: dict[str, tuple[list[datetime], list[Decimal]]] = {}
        for trade in trades:
            if (
                trade.inst_type in SPOT_TYPES
                and trade.quote in CASH_ASSETS
                and trade.base not in CASH_ASSETS
            ):  # a derivative's "price" is a premium or contract price, not the asset's rate
                times, prices = self._fills.setdefault(trade.base, ([], []))
                times.append(trade.at)
                prices.append(trade.price)

    def __call__(self, asset: str, at: datetime) -> Decimal | None:
        fills = self._fills.get(asset)
        if fills is not None:
            times, prices = fills
            index = bisect_left(times, at)
            best: tuple[timedelta, Decimal] | None = None
            for i in (index - 1, index):
                if 0 <= i < len(times):
                    gap = abs(times[i] - at)
                    if gap <= RATE_WINDOW and (best is None or gap < best[0]):
                        best = (gap, prices[i])
            if best is not None:
                return best[1]
        price = self._store.snapshots.prices_at(assets=[asset], at=at).get(asset)
        return price if price is not None and PRICE.admits(price) else None


def pnl_report(
    app: App,
    *,
    portfolio: str = "main",
    method: CostMethod | str = CostMethod.FIFO,
    view: PortfolioView | None = None,
    lots: list[LotUse] | None = None,
) -> PnlReport:
    """P/L of one portfolio (see the module docstring for the inputs); with ``lots`` (a list),
    every disposal is appended to it lot by lot."""
    cost_method = method if isinstance(method, CostMethod) else parse_method(method)
    view = view or portfolio_view(app, portfolio=portfolio)
    holdings = {holding.asset: holding.amount for holding in view.holdings}
    with app.db().session(read_only=True) as store:
        names = [
            spec.name for spec in store.list_accounts(portfolio=portfolio) if spec.import_balance
        ]
        trades, bad_trades = check_trades(store.history.trades(accounts=names) if names else [])
        transfers, bad_transfers = check_transfers(
            store.history.transfers(accounts=names) if names else []
        )
        stored_prices, _refused_prices = check_prices(store.prices())
        prices = {asset: price.usd for asset, price in stored_prices.items()}
        report = compute_pnl(
            trades,
            transfers,
            holdings=holdings,
            prices=prices,
            method=cost_method,
            usd_rate=_Rates(store, trades),
            lots=lots,
        )
    logger.debug(
        "pnl of %s: %d trades, %d transfers, %d flags",
        portfolio,
        len(trades),
        len(transfers),
        len(report.flags),
    )
    # The view already reports the held assets' refused prices: the same stored prices.
    return replace(report, refused=[*view.refused, *bad_trades, *bad_transfers])


def lots_report(
    app: App, *, portfolio: str = "main", method: CostMethod | str = CostMethod.FIFO
) -> LotsReport:
    """The tax lots of one portfolio: each disposal with the lots it used (``pnl --lots``)."""
    lots: list[LotUse] = []
    report = pnl_report(app, portfolio=portfolio, method=method, lots=lots)
    return LotsReport(method=report.method, lots=lots, total_gain=total_gain(lots), pnl=report)


def _lot_row(lot: LotUse, usd: Callable[[Decimal | None], str | None]) -> dict[str, Any]:
    return {
        "asset": lot.asset,
        "account": lot.account,
        "disposed_at": _iso(lot.disposed_at),
        "acquired_at": _iso(lot.acquired_at),
        "amount": format_amount(lot.amount),
        "cost": usd(lot.cost),
        "proceeds": usd(lot.proceeds),
        "fee": usd(lot.fee),
        "gain": usd(lot.gain),
        "holding_days": lot.holding_days,
    }


def lots_to_json(report: LotsReport) -> dict[str, Any]:
    """``{"method", "currency", "lots": [{"asset", "account", "disposed_at", "acquired_at",
    "amount", "cost", "proceeds", "fee", "gain", "holding_days"}], "total_gain"}``: decimals as
    strings, USD figures rounded half-even to 12 decimals (``total_gain`` is then the string of
    `pnl --json`'s ``total_realized``), ``null`` where unknown."""
    return {
        "method": report.method.value,
        "currency": report.currency,
        "lots": [_lot_row(lot, _usd) for lot in report.lots],
        "total_gain": _usd(report.total_gain),
    }


def write_lots_csv(report: LotsReport, path: Path) -> int:
    """Write the lots to ``path`` as CSV (:data:`LOT_COLUMNS`, exact decimals, empty where
    unknown): their ``gain`` column adds up to the realized P/L exactly. Returns the row count.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LOT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for lot in report.lots:
        row = _lot_row(lot, _amount)
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    try:
        path.write_text(buffer.getvalue(), encoding="utf-8")
    except OSError as exc:
        raise translate_os_error(exc, what=f"the CSV file {path}") or UsageError(
            f"could not write the CSV file {path}: {exc.strerror or exc}",
            hint="Check the path, and that its directory exists and is writable by you.",
        ) from exc
    return len(report.lots)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _usd(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return format_amount(round_to(value, USD_QUANTUM, rounding=ROUND_HALF_EVEN))


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else format_amount(value)


def pnl_to_json(report: PnlReport) -> dict[str, Any]:
    """The `keyfolio pnl --json` document, decimals as strings.

    ``{"method", "currency", "assets": [{"asset", "amount", "cost_basis", "realized",
    "unrealized", "fees", "unknown_basis_amount", ...}], "total_realized",
    "total_unrealized", "flags", "notes"}``; rows also carry ``price``, ``value``,
    ``unknown_basis_sold`` and ``unknown_basis_proceeds``.
    """
    return {
        "method": report.method.value,
        "currency": report.currency,
        "assets": [
            {
                "asset": row.asset,
                "amount": _amount(row.amount),
                "cost_basis": _usd(row.cost_basis),
                "realized": _usd(row.realized),
                "unrealized": _usd(row.unrealized),
                "fees": _usd(row.fees),
                "unknown_basis_amount": _amount(row.unknown_basis_amount),
                "price": _amount(row.price),
                "value": _usd(row.value),
                "unknown_basis_sold": _amount(row.unknown_basis_sold),
                "unknown_basis_proceeds": _usd(row.unknown_basis_proceeds),
                "flagged": row.flagged,
            }
            for row in report.assets
        ],
        "total_realized": _usd(report.total_realized),
        "total_unrealized": _usd(report.total_unrealized),
        "flags": [
            {
                "kind": flag.kind.value,
                "asset": flag.asset,
                "amount": _amount(flag.amount),
                "count": flag.count,
                "message": flag.message,
                "see": RECONCILE_COMMAND if flag.kind in BASIS_FLAGS else None,
            }
            for flag in report.flags
        ],
        "notes": report.notes,
        **pnl_rankings_json(report),
        "refused": refused_to_json(report.refused),
    }


def pnl_rankings_json(report: PnlReport) -> dict[str, Any]:
    """The second ranking of the issue: held positions by unrealized P/L in USD (worth at
    least 1 USD, 5 each): ``{"top_pnl_gainers": [...], "top_pnl_losers": [...]}`` with
    ``{"asset", "pnl", "pct", "value"}``."""
    gainers, losers = pnl_movers(report)

    def row(mover: PnlMover) -> dict[str, Any]:
        return {
            "asset": mover.asset,
            "pnl": _usd(mover.pnl),
            "pct": _amount(mover.pct),
            "value": _usd(mover.value),
        }

    return {
        "top_pnl_gainers": [row(m) for m in gainers],
        "top_pnl_losers": [row(m) for m in losers],
    }


def _changes_of(app: App, view: PortfolioView, now: datetime) -> dict[str, Change]:
    from keyfolio.services.values import values_at

    amounts = {holding.asset: holding.amount for holding in view.holdings}
    prices = {h.asset: h.price.usd for h in view.holdings if h.price is not None}
    opens = {h.asset: h.price.open24h_usd for h in view.holdings if h.price is not None}
    open24h = open24h_value(amounts, prices, opens)
    utc = any(
        h.price is not None and h.price.open_basis != "24h" and h.amount != 0 for h in view.holdings
    )
    open_basis = ChangeBasis.OPEN_UTC if utc else ChangeBasis.OPEN24H
    timed = [(key, length) for key, length in WINDOWS.items() if length is not None]
    starts, first = values_at(
        app, portfolio=view.portfolio, moments=[now - length for _, length in timed], now=now
    )
    start_values: dict[str, Decimal | None] = {
        key: value for (key, _), value in zip(timed, starts, strict=True)
    }
    result: dict[str, Change] = {}
    for key in WINDOWS:
        start_value = start_values[key] if key in start_values else first
        result[key] = change_between(
            key,
            now_value=view.total_value,
            start_value=start_value,
            open24h=open24h,
            open_basis=open_basis,
        )
    return result


def changes(app: App, *, portfolio: str = "main", now: datetime | None = None) -> dict[str, Change]:
    """The portfolio's value change over every window (``WINDOWS``), keyed by window."""
    return _changes_of(app, portfolio_view(app, portfolio=portfolio), now or datetime.now(UTC))


def _movers_of(
    app: App, view: PortfolioView, *, window: str, threshold: Decimal, now: datetime
) -> tuple[list[Mover], list[Mover]]:
    key = parse_window(window)
    held = [
        HeldAsset(
            h.asset,
            h.amount,
            None if h.price is None else h.price.usd,
            None if h.price is None else h.price.open24h_usd,
            "24h" if h.price is None else h.price.open_basis,
        )
        for h in view.holdings
    ]
    assets = [item.asset for item in held if item.price is not None]
    length = WINDOWS[key]
    with app.db().session(read_only=True) as store:
        names = [account.spec.name for account in view.accounts if account.spec.import_balance]
        if length is None:
            since = store.snapshots.first_at(accounts=names) if names else None
        else:
            since = now - length
        then = store.snapshots.prices_at(assets=assets, at=since) if since and assets else {}
    then = {asset: price for asset, price in then.items() if PRICE.admits(price)}
    return top_movers(held, then, window=key, threshold=threshold)


def movers(
    app: App,
    *,
    portfolio: str = "main",
    window: str = MOVERS_WINDOW,
    threshold: Decimal = DEFAULT_THRESHOLD,
    now: datetime | None = None,
) -> tuple[list[Mover], list[Mover]]:
    """``(gainers, losers)`` of the portfolio by price change over ``window``."""
    view = portfolio_view(app, portfolio=portfolio)
    return _movers_of(app, view, window=window, threshold=threshold, now=now or datetime.now(UTC))


def change_to_json(change: Change) -> dict[str, Any]:
    """``{"value", "pct", "basis"}`` (decimals as strings, ``null`` when unknown)."""
    return {"value": _usd(change.value), "pct": _amount(change.pct), "basis": change.basis.value}


def _mover_json(mover: Mover) -> dict[str, Any]:
    return {
        "asset": mover.asset,
        "change_pct": _amount(mover.change_pct),
        "value": _usd(mover.value),
        "window": mover.window,
        "basis": mover.basis.value,
    }


def summary_extras(app: App, view: PortfolioView, *, now: datetime | None = None) -> dict[str, Any]:
    """What `show --json` adds: ``{"change": {window: {"value", "pct", "basis"}},
    "top_gainers": [{"asset", "change_pct", "value", "window"}], "top_losers": [...]}``
    (movers over 24h, threshold 1 USD, at most 5 each)."""
    moment = now or datetime.now(UTC)
    gainers, losers = _movers_of(
        app, view, window=MOVERS_WINDOW, threshold=DEFAULT_THRESHOLD, now=moment
    )
    return {
        "change": {key: change_to_json(c) for key, c in _changes_of(app, view, moment).items()},
        "top_gainers": [_mover_json(m) for m in gainers],
        "top_losers": [_mover_json(m) for m in losers],
    }
