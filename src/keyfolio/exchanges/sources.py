"""A connector's balance sources: reading ccxt's totals, and running the sources side by side.

Shared by every connector (:mod:`keyfolio.exchanges.ccxt_generic` and its venue subclasses):
an error of one source becomes that source's result (its last good amounts kept, marked stale),
an error of the whole key (:func:`is_fatal`) is raised instead, and amounts are read from the
exchange's own decimal strings, never from ccxt's floats.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.money import BOUNDS_HINT, AmountError, parse_decimal
from keyfolio.errors import (
    ExchangeAuthError,
    ExchangeError,
    ExchangeResponseError,
    ExchangeUnsupportedError,
    PermissionDeniedError,
)

__all__ = ["gather_sources", "is_fatal", "parse_totals", "result_for_error"]


def result_for_error(source: Source, exc: ExchangeError) -> SourceResult:
    """The SourceResult of a source that failed with a (per-source) keyfolio error."""
    if isinstance(exc, PermissionDeniedError):
        status = SourceStatus.NOT_PERMITTED
    elif isinstance(exc, ExchangeUnsupportedError):
        status = SourceStatus.UNSUPPORTED
    else:
        status = SourceStatus.FAILED
    return SourceResult(
        source=source, status=status, error=exc.message, hint=exc.hint, error_code=exc.code
    )


def is_fatal(exc: ExchangeError) -> bool:
    """Errors that mean the whole key is unusable: raised, not reported per source."""
    return isinstance(exc, ExchangeAuthError) and not isinstance(exc, PermissionDeniedError)


def parse_totals(totals: Mapping[Any, Any], *, name: str, account: str) -> dict[str, Decimal]:
    """The non-zero amounts in ccxt's ``balance["total"]``, from the exchange's own strings.

    Every total must be a decimal string (``exchange.number = str``). Anything else (a float,
    ``None`` where the exchange gave no total, text) raises :class:`ExchangeResponseError`
    naming the assets: an asset is never dropped, so the portfolio never silently shrinks.
    """
    amounts: dict[str, Decimal] = {}
    unreadable: list[str] = []
    out_of_bounds = False
    for code, value in totals.items():
        if not isinstance(code, str) or not code.strip():
            unreadable.append(f"asset {code!r}")
            continue
        if not isinstance(value, str):
            unreadable.append(f"{code} {type(value).__name__} {value!r}")
            continue
        try:
            amount = parse_decimal(value, field=f"{name} {code} total")
        except AmountError as exc:  # not a number, or outside keyfolio's bounds
            unreadable.append(f"{code} {value[:40]!r}")
            out_of_bounds = out_of_bounds or exc.out_of_bounds
            continue
        if amount != 0:
            amounts[code] = amount
    if unreadable:
        more = f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else ""
        kept = "This source keeps its last good balances (marked stale). "
        raise ExchangeResponseError(
            f"{name} sent a balance keyfolio cannot read for account '{account}': no decimal "
            f"total for {', '.join(unreadable[:3])}{more}.",
            hint=kept + (BOUNDS_HINT if out_of_bounds else ExchangeResponseError.default_hint),
        )
    return amounts


async def gather_sources(
    calls: Mapping[Source, Callable[[], Awaitable[SourceResult]]],
    *,
    also: Awaitable[None] | None = None,
) -> list[SourceResult | ExchangeError]:
    """Run each source's call concurrently (and ``also``, e.g. loading markets).

    A per-source error becomes that source's result; a fatal error is returned in its place
    (never raised, so it never cancels the sibling requests).
    """

    async def guarded(
        source: Source, call: Callable[[], Awaitable[SourceResult]]
    ) -> SourceResult | ExchangeError:
        try:
            return await call()
        except ExchangeError as exc:
            return exc if is_fatal(exc) else result_for_error(source, exc)

    tasks = [guarded(source, call) for source, call in calls.items()]
    if also is None:
        return list(await asyncio.gather(*tasks))
    outcomes, _ = await asyncio.gather(asyncio.gather(*tasks), also)
    return list(outcomes)
