"""`keyfolio history` (the value series, JSON or a terminal chart) and `keyfolio db compact`.

The chart is drawn with braille dots (2 x 4 per character). Values are mapped to dot rows with
``Decimal`` ratios rounded to integers, times to dot columns with integer microseconds: no
float touches a value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from keyfolio.cli._context import console, state
from keyfolio.cli.render import refused_lines
from keyfolio.domain.money import format_fixed, format_usd, prorate, subtract

if TYPE_CHECKING:
    from keyfolio.analytics.series import SeriesPoint
    from keyfolio.services.values import ValueSeries
    from keyfolio.storage.retention import CompactReport

__all__ = ["db_app", "values_command", "render_chart"]

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True, rich_markup_mode="rich")

_BRAILLE = 0x2800
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))  # [column][row from the top]
_MIN_WIDTH, _MAX_WIDTH = 20, 120


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _usd(value: Decimal) -> str:
    return format_usd(value)


def _percent(change: Decimal, start: Decimal) -> str:
    """``change / start x 100`` rounded once, half-even, to 0.01, with its sign."""
    pct = prorate(change, _HUNDRED, start, quantum=Decimal("0.01"))
    return ("+" if pct >= 0 else "") + format_fixed(pct, 2)


_ONE, _HUNDRED = Decimal(1), Decimal(100)


def _columns(
    points: Sequence[SeriesPoint], start: datetime, end: datetime, dots: int
) -> list[Decimal | None]:
    """The carried value at each of ``dots`` evenly spaced moments of ``[start, end]``."""
    span = max(1, _micros(end - start))
    values: list[Decimal | None] = []
    index = -1
    for column in range(dots):
        moment = start + timedelta(microseconds=span * column // max(1, dots - 1))
        while index + 1 < len(points) and points[index + 1].at <= moment:
            index += 1
        values.append(points[index].value if index >= 0 else None)
    return values


def render_chart(
    points: Sequence[SeriesPoint],
    *,
    start: datetime,
    end: datetime,
    width: int = 60,
    height: int = 10,
) -> list[str]:
    """The braille lines of a step chart of ``points`` over ``[start, end]``, top line first,
    ``width`` characters wide and ``height`` lines high (no labels)."""
    dots_x, dots_y = width * 2, height * 4
    columns = _columns(points, start, end, dots_x)
    known = [value for value in columns if value is not None]
    if not known:
        return [" " * width for _ in range(height)]
    low, high = min(known), max(known)
    cells = [[0] * width for _ in range(height)]

    def row_of(value: Decimal) -> int:
        """The dot row of ``value``: its place between low and high, rounded half-even."""
        if high == low:
            return dots_y // 2
        offset, span = subtract(value, low), subtract(high, low)
        return int(prorate(offset, Decimal(dots_y - 1), span, quantum=_ONE))

    previous: int | None = None
    for x, value in enumerate(columns):
        if value is None:
            previous = None
            continue
        y = row_of(value)
        low_y, high_y = (y, y) if previous is None else (min(y, previous), max(y, previous))
        for level in range(low_y, high_y + 1):
            top = dots_y - 1 - level
            cells[top // 4][x // 2] |= _DOTS[x % 2][top % 4]
        previous = y
    return ["".join(chr(_BRAILLE + bits) if bits else " " for bits in line) for line in cells]


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _print_chart(series: ValueSeries) -> None:
    points = series.points
    low = min(point.value for point in points)
    high = max(point.value for point in points)
    labels = [_usd(high), _usd(low)]
    pad = max(len(label) for label in labels)
    width = max(_MIN_WIDTH, min(_MAX_WIDTH, console.width - pad - 3))
    lines = render_chart(points, start=series.start, end=series.end, width=width)
    scope = f"portfolio '{series.portfolio}'"
    if series.account:
        scope += f", account '{series.account}'"
    if series.asset:
        scope += f", asset {series.asset}"
    console.print(f"Value series (USD) of {escape(scope)}, window {series.window}")
    for number, line in enumerate(lines):
        label = labels[0] if number == 0 else labels[1] if number == len(lines) - 1 else ""
        console.print(f"{label:>{pad}} ┤{line}", markup=False, highlight=False)
    left, right = _stamp(series.start), _stamp(series.end)
    gap = max(1, width - len(left) - len(right))
    console.print(f"{'':>{pad}}  {left}{' ' * gap}{right}", markup=False, highlight=False)
    first, last = points[0], points[-1]
    change = subtract(last.value, first.value)
    pct = "" if first.value == 0 else f" ({_percent(change, first.value)}%)"
    sign = "+" if change >= 0 else "-"
    console.print(
        f"First {_usd(first.value)} ({_stamp(first.at)})   Last {_usd(last.value)} "
        f"({_stamp(last.at)})",
        markup=False,
        highlight=False,
    )
    console.print(
        f"Change {sign}{_usd(abs(change))}{pct}   Low {_usd(low)}   High {_usd(high)}",
        markup=False,
        highlight=False,
    )
    if series.start_value is None and series.window != "all":
        console.print(
            "[dim]The series starts after the window's start: the change covers the part "
            "there is.[/]"
        )


def values_command(
    portfolio: Annotated[str, typer.Option(help="Portfolio to chart.")] = "main",
    window: Annotated[
        str, typer.Option(help="Time window: 1h, 24h, 7d, 30d, 90d, 1y or all.")
    ] = "30d",
    account: Annotated[str | None, typer.Option("--account", help="Only this account.")] = None,
    asset: Annotated[str | None, typer.Option("--asset", help="Only this asset.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (decimals as strings).")
    ] = False,
) -> None:
    """Show a portfolio's value over time (its value series): a chart, or JSON with --json."""
    from keyfolio.analytics.windows import parse_window
    from keyfolio.services.values import series_to_json, value_series

    key = parse_window(window)
    series = value_series(
        state.app(), portfolio=portfolio, window=key, account=account, asset=asset
    )
    if as_json:
        typer.echo(json.dumps(series_to_json(series), indent=2))
        return
    for line in refused_lines(series.refused):
        console.print(line)
    if not series.points:
        what = f"account '{account}'" if account else f"portfolio '{series.portfolio}'"
        console.print(
            f"No value series yet for {escape(what)} in the window {key}. "
            "Every `keyfolio sync` takes a snapshot: run `keyfolio sync` now and again later "
            "(or try a longer --window)."
        )
        return
    _print_chart(series)


def _report_json(report: CompactReport) -> dict[str, object]:
    def iso(moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")

    return {
        "now": iso(report.now),
        "hourly_before": iso(report.hourly_before),
        "daily_before": iso(report.daily_before),
        "sets_removed": report.sets_removed,
        "snapshots_removed": report.snapshots_removed,
        "sets_kept": report.sets_kept,
    }


@db_app.command("compact")
def compact_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Downsample old snapshots now: all of the last 7 days, hourly to 90 days, daily after.

    It also rebuilds every portfolio's value series from the snapshots. It runs on its own,
    at most once an hour, after a sync.
    """
    from keyfolio.services.snapshots import compact_snapshots

    report = compact_snapshots(state.app())
    if as_json:
        typer.echo(json.dumps(_report_json(report), indent=2))
        return
    console.print(
        f"Removed {report.sets_removed} snapshot sets ({report.snapshots_removed} asset rows); "
        f"{report.sets_kept} sets kept: every one since {_stamp(report.hourly_before)}, one per "
        f"hour since {_stamp(report.daily_before)}, one per day before. Value series rebuilt."
    )
