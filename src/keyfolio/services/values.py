"""The value series: a portfolio's value over time, behind `keyfolio history` and
``GET /api/v1/history`` (not to be confused with the trade records that
:mod:`keyfolio.services.imports` imports), and the value at a moment.

The value at a moment is the sum, over every (account, source) of the portfolio's accounts that
count in its totals (``import_balance`` on), of that source's last snapshot set at or before it
(carry-forward): a stale source keeps its last value and never dips to zero. Series older than
7 days have the retention grid's resolution (one point per hour, past 90 days per day), so they
are the same before and after `keyfolio db compact`. Everything is ``Decimal``, summed exactly
in the one money context, so the last point equals the `show` total to the last digit.

A portfolio's series is kept at write time (``store.values``): every snapshot write updates it
(:func:`refresh_values`, from the new sets' moment on), `keyfolio db compact` rebuilds it
(:func:`rebuild_values`), and a series that no longer matches its sets (an account added,
removed, moved or excluded) is rebuilt when it is next read. A whole-portfolio series then
reads its stored points only, and only those retention keeps at its end (the database drops
the others); one account's or one asset's series is computed from the sets.
Either way the result is the same (a property test holds them equal).

A snapshot whose value is outside the money bounds (recorded by an older keyfolio) is left
out (the source's previous snapshot carries over it) and listed in ``refused``, with the
scope's stored balances that are outside the bounds (which `show` leaves out). A portfolio
with such a snapshot is computed from its sets, which lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from keyfolio.analytics.series import Reading, SeriesPoint, carry_forward, downsample, thin
from keyfolio.analytics.windows import WINDOWS, parse_window
from keyfolio.domain.money import INPUT, VALUE, RefusedValue, format_amount, subtract, total
from keyfolio.errors import NotFoundError
from keyfolio.services.bounds import check_balances, check_snapshot, refused_to_json
from keyfolio.services.context import App
from keyfolio.storage.retention import retention_bucket, retention_bucketer
from keyfolio.storage.snapshots import SetReading
from keyfolio.storage.values import ValueStatus

if TYPE_CHECKING:
    from keyfolio.storage import Store

__all__ = [
    "SeriesPoint",
    "ValueSeries",
    "computed_series",
    "rebuild_values",
    "refresh_values",
    "series_to_json",
    "value_at",
    "value_series",
    "values_at",
]

_END = datetime(9999, 12, 31, tzinfo=UTC)  # "no upper bound" for a set reading


@dataclass(frozen=True)
class ValueSeries:
    """A value series (USD) of a portfolio, or of one account or asset in it.

    ``start`` is the window's start (for ``all``, the first snapshot), floored to the
    retention grid when older than 7 days; ``end`` is the moment asked for. ``start_value`` is the
    carried value at ``start`` (``None`` when there is no snapshot before it, i.e. the
    snapshots do not cover the whole window); it is also the first point when not ``None``.
    """

    portfolio: str
    window: str
    start: datetime
    end: datetime
    points: list[SeriesPoint]
    start_value: Decimal | None = None
    account: str | None = None
    asset: str | None = None
    refused: list[RefusedValue] = field(default_factory=list)

    @property
    def first(self) -> SeriesPoint | None:
        return self.points[0] if self.points else None

    @property
    def last(self) -> SeriesPoint | None:
        return self.points[-1] if self.points else None

    @property
    def change(self) -> Decimal | None:
        """Last value minus first value; ``None`` without points."""
        if not self.points:
            return None
        return subtract(self.points[-1].value, self.points[0].value)


def _scope(store: Store, *, portfolio: str, account: str | None) -> tuple[str, list[str]]:
    """The portfolio name and the accounts a series covers."""
    if account is not None:
        spec = store.get_account(name=account)
        return spec.portfolio, [spec.name]
    store.get_portfolio(name=portfolio)
    specs = store.list_accounts(portfolio=portfolio)
    return portfolio, [spec.name for spec in specs if spec.import_balance]


def _as_readings(
    rows: Sequence[SetReading], *, asset: str | None, refused: list[RefusedValue]
) -> list[Reading]:
    """The rows as series readings; a row outside the money bounds goes to ``refused``."""
    admits, admits_amount = VALUE.admits, INPUT.admits
    readings = []
    for row in rows:
        amount = row.amount if asset is not None else None
        if admits(row.value) and (amount is None or admits_amount(amount)):
            readings.append(Reading(row.at, (row.account, row.source), row.value, amount))
            continue
        refusal = check_snapshot(
            row.account, row.source, _iso(row.at), row.value, amount=amount, asset=asset
        )
        if refusal is not None:
            refused.append(refusal)
    return readings


def value_series(
    app: App,
    *,
    portfolio: str = "main",
    window: str = "30d",
    account: str | None = None,
    asset: str | None = None,
    now: datetime | None = None,
) -> ValueSeries:
    """The carry-forward value series over ``window`` ending ``now`` (default: now).

    ``account`` narrows it to one account (counted even with ``import_balance`` off),
    ``asset`` to one asset (its points also carry the amount). At most ~500 points. A whole
    portfolio's series is read from its stored points (brought up to date first if needed).
    """
    if account is None and asset is None:
        series = _stored_series(app, portfolio=portfolio, window=window, now=now)
        if series is not None:
            return series
    return computed_series(
        app, portfolio=portfolio, window=window, account=account, asset=asset, now=now
    )


def _stored_series(
    app: App, *, portfolio: str, window: str, now: datetime | None
) -> ValueSeries | None:
    """The portfolio's series from its stored points; ``None`` when they cannot serve it (a
    refused snapshot, or sets written between bringing them up to date and reading them)."""
    key = parse_window(window)
    end = now or datetime.now(UTC)
    length = WINDOWS[key]
    for attempt in range(2):
        with app.db().session(read_only=True) as store:
            name, accounts = _scope(store, portfolio=portfolio, account=None)
            repo = store.values
            status = repo.status(portfolio=name, accounts=accounts)
            if status.is_current:
                if not status.is_exact:
                    return None
                before = None
                if length is None:
                    oldest = repo.first_at(portfolio=name)
                    stored = repo.retained_points(portfolio=name, now=end) if oldest else []
                    start = end if oldest is None else retention_bucket(oldest, end) or oldest
                else:
                    start = retention_bucket(end - length, end) or end - length
                    before = repo.last_before(portfolio=name, before=start)
                    stored = repo.retained_points(portfolio=name, since=start, now=end)
                refused = _refused_balances(store, name, None, accounts)
                break
        if attempt == 0:
            with app.db().session() as store:
                refresh_values(store, portfolio=name)
    else:
        return None
    points = [SeriesPoint(point.at, point.value) for point in stored]  # downsampled
    start_value = None if before is None else before.value
    if start_value is not None and (not points or points[0].at != start):
        points.insert(0, SeriesPoint(start, start_value))
    return ValueSeries(
        portfolio=name,
        window=key,
        start=start,
        end=end,
        points=thin(points, start=start, end=end),
        start_value=start_value,
        refused=refused,
    )


def computed_series(
    app: App,
    *,
    portfolio: str = "main",
    window: str = "30d",
    account: str | None = None,
    asset: str | None = None,
    now: datetime | None = None,
) -> ValueSeries:
    """:func:`value_series` computed from the snapshot sets (never from stored points)."""
    key = parse_window(window)
    end = now or datetime.now(UTC)
    length = WINDOWS[key]
    with app.db().session(read_only=True) as store:
        name, accounts = _scope(store, portfolio=portfolio, account=account)
        repo = store.snapshots
        if asset is not None and accounts and not repo.held(accounts=accounts, asset=asset):
            where = f"account '{account}'" if account else f"portfolio '{name}'"
            raise NotFoundError(
                f"{where} has never held {asset}",
                hint="`keyfolio show` lists the assets held (asset codes as the exchange "
                "spells them, e.g. BTC).",
            )
        initial: list[SetReading] = []
        if length is None:
            oldest = repo.first_at(accounts=accounts) if accounts else None
            rows = repo.readings(accounts=accounts, until=end, asset=asset) if oldest else []
            start = end if oldest is None else retention_bucket(oldest, end) or oldest
        else:
            start = retention_bucket(end - length, end) or end - length
            initial = repo.carried(accounts=accounts, before=start, inclusive=False, asset=asset)
            rows = repo.readings(accounts=accounts, since=start, until=end, asset=asset)
        refused = _refused_balances(store, name, account, accounts)
    initial_readings = _as_readings(initial, asset=asset, refused=refused)
    points = carry_forward(
        _as_readings(rows, asset=asset, refused=refused),
        initial={reading.key: reading for reading in initial_readings},
    )
    points = downsample(points, bucket_of=retention_bucketer(end))
    start_value: Decimal | None = None
    if initial_readings:
        start_value = total(reading.value for reading in initial_readings)
        if not points or points[0].at != start:
            amounts = [r.amount for r in initial_readings if r.amount is not None]
            first = SeriesPoint(start, start_value, total(amounts) if asset is not None else None)
            points.insert(0, first)
    return ValueSeries(
        portfolio=name,
        window=key,
        start=start,
        end=end,
        points=thin(points, start=start, end=end),
        start_value=start_value,
        account=account,
        asset=asset,
        refused=refused,
    )


def refresh_values(
    store: Store, *, portfolio: str, rebuild: bool = False, now: datetime | None = None
) -> ValueStatus:
    """Bring the stored series of ``portfolio`` up to date with its sets (in ``store``'s
    transaction): from the oldest set it lacks on, or all of it when the accounts it counts
    changed, sets were removed, or ``rebuild``. Returns its status afterwards."""
    store.values.lock(portfolios=[portfolio])  # one writer of the series at a time
    _, accounts = _scope(store, portfolio=portfolio, account=None)
    status = store.values.status(portfolio=portfolio, accounts=accounts)
    if status.is_current and not rebuild:
        return status
    since = None if rebuild else status.since
    repo = store.snapshots
    refused: list[RefusedValue] = []
    initial: list[Reading] = []
    if since is None:
        rows = repo.readings(accounts=accounts, until=_END) if accounts else []
    else:
        carried = repo.carried(accounts=accounts, before=since, inclusive=False)
        initial = _as_readings(carried, asset=None, refused=refused)
        rows = repo.readings(accounts=accounts, since=since, until=_END)
    points = carry_forward(
        _as_readings(rows, asset=None, refused=refused),
        initial={reading.key: reading for reading in initial},
    )
    exact = not refused and (since is None or status.is_exact)
    store.values.replace(
        portfolio=portfolio,
        accounts=accounts,
        since=since,
        points=[(point.at, point.value) for point in points],
        last_set_id=status.last_set_id,
        exact=exact,
        now=now or datetime.now(UTC),
    )
    return ValueStatus(True, None, status.last_set_id, exact)


def rebuild_values(store: Store, *, now: datetime | None = None) -> int:
    """Rebuild every portfolio's stored series from its sets (in ``store``'s transaction);
    returns the number of portfolios."""
    names = [item.name for item in store.list_portfolios()]
    for name in names:
        refresh_values(store, portfolio=name, rebuild=True, now=now)
    return len(names)


def _refused_balances(
    store: Store, portfolio: str, account: str | None, accounts: Sequence[str]
) -> list[RefusedValue]:
    """The scope's stored balances outside the money bounds (what `show` leaves out); only
    those are read as records."""
    if not accounts:
        return []
    rows = (
        store.balances(account=account, include_excluded=True, where_amount=_is_refused)
        if account is not None
        else store.balances(portfolio=portfolio, where_amount=_is_refused)
    )
    names = set(accounts)
    rows = [row for row in rows if row.account in names]
    if not rows:
        return []
    exchanges = {spec.name: spec.exchange for spec in store.list_accounts(portfolio=portfolio)}
    return check_balances(rows, exchanges)[1]


def _is_refused(amount: Decimal) -> bool:
    return not INPUT.admits(amount)


def value_at(
    app: App,
    *,
    portfolio: str = "main",
    at: datetime,
    account: str | None = None,
    now: datetime | None = None,
) -> Decimal | None:
    """The carry-forward value at ``at``; ``None`` when there is no snapshot by then.

    Older than 7 days (relative to ``now``), ``at`` has the retention grid's resolution: the
    value as of the start of its hour (past 90 days, its UTC day), the same before and after
    compaction, and the same as the start value of a series starting there.
    """
    bucket = retention_bucket(at, now or datetime.now(UTC))
    with app.db().session(read_only=True) as store:
        _, accounts = _scope(store, portfolio=portfolio, account=account)
        rows = store.snapshots.carried(
            accounts=accounts,
            before=bucket or at,
            inclusive=bucket is None,
        )
    if not rows:
        return None
    return total(reading.value for reading in _as_readings(rows, asset=None, refused=[]))


def values_at(
    app: App, *, portfolio: str = "main", moments: Sequence[datetime], now: datetime | None = None
) -> tuple[list[Decimal | None], Decimal | None]:
    """:func:`value_at` for several moments in one session, plus the first recorded value.

    Returns ``(values, first)``: ``values[i]`` is the value at ``moments[i]`` (``None``
    before the first snapshot) and ``first`` the total at the first snapshot (``None``
    without any). The summary's value changes use it: one read transaction, one query per
    moment on the ``(account, source, at)`` index, never a scan of every snapshot set.
    """
    moment_now = now or datetime.now(UTC)
    bounds: list[tuple[datetime, bool]] = []
    for at in moments:
        bucket = retention_bucket(at, moment_now)
        bounds.append((bucket or at, bucket is None))
    with app.db().session(read_only=True) as store:
        _, accounts = _scope(store, portfolio=portfolio, account=None)
        if not accounts:
            return [None for _ in moments], None
        first_at = store.snapshots.first_at(accounts=accounts)
        if first_at is not None:
            bounds.append((first_at, True))
        carried = store.snapshots.totals_at(accounts=accounts, bounds=bounds)
    totals = [
        None if not sets else total(r.value for r in _as_readings(sets, asset=None, refused=[]))
        for sets in carried
    ]
    if first_at is None:
        return totals, None
    return totals[:-1], totals[-1]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def series_to_json(series: ValueSeries) -> dict[str, Any]:
    """``{"portfolio", "window", "currency": "USD", "start", "end", "points": [{"at", "value"}],
    "refused": [...]}`` (decimals as strings; ``"account"``/``"asset"`` when narrowed, an
    asset's points also carry ``"amount"``; ``refused`` as in `show --json`)."""
    points: list[dict[str, str]] = []
    for point in series.points:
        item = {"at": _iso(point.at), "value": format_amount(point.value)}
        if series.asset is not None and point.amount is not None:
            item["amount"] = format_amount(point.amount)
        points.append(item)
    data: dict[str, Any] = {
        "portfolio": series.portfolio,
        "window": series.window,
        "currency": "USD",
        "start": _iso(series.start),
        "end": _iso(series.end),
        "points": points,
    }
    if series.account is not None:
        data["account"] = series.account
    if series.asset is not None:
        data["asset"] = series.asset
    data["refused"] = refused_to_json(series.refused)
    return data
