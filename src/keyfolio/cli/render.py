"""Rich rendering of the portfolio view and sync results."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from keyfolio.cli._context import console
from keyfolio.domain.money import (
    RefusedValue,
    format_amount,
    format_fixed,
    format_usd,
    multiply,
    total,
)

if TYPE_CHECKING:
    from keyfolio.services.view import Holding, PortfolioView

__all__ = ["refused_lines", "render_performance", "render_view", "view_renderable"]

_BASIS = {
    "history": "from history",
    "open24h": "from 24h open prices",
    "open_utc": "from 24h open prices (Kraken's: today 00:00 UTC)",
    "none": "no data yet",
}


def render_view(view: PortfolioView) -> None:
    """The `keyfolio show` screen: holdings, per-source breakdown, total and badges."""
    console.print(view_renderable(view))


def view_renderable(view: PortfolioView) -> RenderableType:
    """What `keyfolio show` prints, as one renderable (`keyfolio watch` re-renders it live)."""
    badges = []
    if view.is_partial:
        badges.append("[yellow]PARTIAL[/]")
    if any(h.stale for h in view.holdings):
        badges.append("[yellow]STALE DATA[/]")
    if view.unpriced:
        badges.append(f"[magenta]{len(view.unpriced)} UNPRICED[/]")
    stale_prices = view.stale_prices
    if stale_prices and view.prices_as_of is not None:
        count = len(stale_prices)
        badges.append(
            f"[yellow]{count} STALE PRICE{'S' if count > 1 else ''}, "
            f"PRICES FROM {view.prices_as_of:%Y-%m-%d %H:%M} UTC[/]"
        )
    as_of = view.as_of.strftime("%Y-%m-%d %H:%M:%S UTC") if view.as_of else "never synced"
    parts: list[RenderableType] = [
        Text.from_markup(f"[bold]Portfolio {escape(view.portfolio)}[/] — as of {as_of} ")
        + Text.from_markup(" ".join(badges))
    ]
    table = Table("asset", "amount", "price (USD)", "value (USD)", "share", "sources")
    for holding in view.holdings:
        share = view.share(holding)
        sources = _holding_sources(view, holding)
        table.add_row(
            holding.asset,
            format_amount(holding.amount),
            _price_cell(view, holding),
            format_usd(holding.value) if holding.value is not None else "-",
            f"{format_fixed(share, 1)}%" if share is not None else "-",
            escape(sources),
        )
    parts.append(table)
    total_line = f"[bold]Total: {format_usd(view.total_value)} USD[/]"
    if view.unpriced:
        total_line += (
            f" (leaves out {len(view.unpriced)} unpriced asset"
            f"{'s' if len(view.unpriced) > 1 else ''}: {escape(', '.join(view.unpriced))})"
        )
    parts.append(Text.from_markup(total_line))
    parts.extend(_price_notes(view))
    parts.extend(refused_lines(view.refused))
    if view.accounts:
        parts.append(_sources_table(view))
    if view.other_portfolios:
        parts.append(
            Text(
                f"Other portfolios: {', '.join(view.other_portfolios)} "
                "(show one with --portfolio NAME)."
            )
        )
    return Group(*parts)


def _price_cell(view: PortfolioView, holding: Holding) -> str:
    price = holding.price
    if price is None:
        return "[magenta]unpriced[/]"
    text = format_amount(price.usd)
    if price.source == "par":
        text += " [cyan](par)[/]"
    if view.is_price_stale(holding):
        text = f"[yellow]{text} (stale)[/]"
    return text


def _price_notes(view: PortfolioView) -> list[Text]:
    """Which prices are assumed (par) and which are old (stale), and why."""
    notes = []
    if view.at_par:
        notes.append(
            Text.from_markup(
                f"[cyan](par)[/] {escape(', '.join(view.at_par))}: assumed 1:1 with USD "
                "(no linked venue has a market for it); a depeg would not show."
            )
        )
    if view.stale_prices:
        minutes = f"{view.price_max_age.total_seconds() / 60:g}"
        notes.append(
            Text.from_markup(
                f"[yellow](stale)[/] {escape(', '.join(view.stale_prices))}: the price's ticker "
                f"time is over {minutes} minutes old (KEYFOLIO_PRICE_MAX_AGE_MINUTES). Run "
                "`keyfolio sync` to refresh."
            )
        )
    return notes


def refused_lines(refused: list[RefusedValue]) -> list[Text]:
    """One warning per stored value outside the money bounds, with its hint."""
    return [
        Text.from_markup(
            f"[yellow]Left out:[/] {escape(item.message)}.\n  Hint: {escape(item.hint)}"
        )
        for item in refused
    ]


def _holding_sources(view: PortfolioView, holding: Holding) -> str:
    """Where a holding sits, per account in the venue's words: ``main: Spot, Simple Earn``."""
    from keyfolio.services.view import source_label

    exchanges = {account.spec.name: account.spec.exchange for account in view.accounts}
    grouped: dict[str, list[str]] = {}
    for item in holding.sources:
        exchange = exchanges.get(item.account)
        label = item.source.label if exchange is None else source_label(exchange, item.source)
        grouped.setdefault(item.account, []).append(label + (" (stale)" if item.stale else ""))
    return "; ".join(f"{account}: {', '.join(labels)}" for account, labels in grouped.items())


def _sources_table(view: PortfolioView) -> Table:
    from keyfolio.services.view import source_label

    table = Table("account", "import", "status", "source", "source status", "value (USD)", "note")
    values: dict[tuple[str, str], list[Decimal]] = {}
    for holding in view.holdings:
        for item in holding.sources:
            if holding.price is not None:
                key = (item.account, item.source.value)
                values.setdefault(key, []).append(multiply(item.amount, holding.price.usd))
    for account in view.accounts:
        spec = account.spec
        for state in account.sources or []:
            parts = values.get((spec.name, state.source.value))
            value = None if parts is None else total(parts)
            note = state.error or ""
            if state.hint and state.error:
                note = f"{note} — {state.hint}"
            table.add_row(
                spec.name,
                "on" if spec.import_balance else "off",
                spec.status,
                source_label(spec.exchange, state.source),
                state.status.value,
                format_usd(value) if value is not None else "-",
                escape(note),
            )
    return table


def _signed(text: str | None, suffix: str = "") -> str:
    if text is None:
        return "-"
    value = Decimal(text)
    colour = "green" if value > 0 else "red" if value < 0 else "white"
    sign = "+" if value > 0 else ""
    shown = format_usd(value) if not suffix else format_fixed(value, 2)
    return f"[{colour}]{sign}{shown}{suffix}[/]"


def render_performance(extras: dict[str, Any]) -> None:
    """Value change per window and the top gainers/losers (``summary_extras`` output)."""
    changes = extras.get("change", {})
    table = Table("window", "change (USD)", "change %", "basis", title="Value change")
    for window, change in changes.items():
        if change.get("basis") == "none" and window not in ("24h", "all"):
            continue
        table.add_row(
            window,
            _signed(change.get("value")),
            _signed(change.get("pct"), "%"),
            _BASIS.get(change.get("basis", "none"), change.get("basis", "")),
        )
    console.print(table)
    for title, key in (("Top gainers", "top_gainers"), ("Top losers", "top_losers")):
        movers = extras.get(key) or []
        if not movers:
            console.print(f"{title}: none (assets worth at least 1 USD, ranked by price change).")
            continue
        listed = ", ".join(
            f"{escape(m['asset'])} {_signed(m['change_pct'], '%')} ({m['window']})" for m in movers
        )
        console.print(f"{title}: {listed}")
