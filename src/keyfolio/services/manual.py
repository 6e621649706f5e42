"""Trades and holdings entered by the user by hand (CSV files: `services.csv_import`).

* Holdings held elsewhere live in an account of exchange ``manual`` (created on first use,
  no credentials, never contacted). Its balances are written with ``Store.record_sync`` as
  one TRADING source, so ``keyfolio show`` counts them like any other account.
* Trades can be added to any account (exchange or manual). Their ids are derived from their
  content, so the same trade is not recorded twice by accident.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.domain.history import Trade, TradeSide
from keyfolio.domain.money import (
    BOUNDS_HINT,
    INPUT,
    ZERO,
    AmountError,
    parse_decimal,
    subtract,
    total,
)
from keyfolio.errors import ConflictError, NotFoundError, UsageError
from keyfolio.services.context import App
from keyfolio.services.imports import MANUAL_EXCHANGE

if TYPE_CHECKING:
    from keyfolio.storage import Store

__all__ = [
    "DEFAULT_MANUAL_ACCOUNT",
    "add_holding",
    "add_trade",
    "list_holdings",
    "list_trades",
    "parse_pair",
    "parse_time",
    "remove_holding",
    "trade_from_fields",
]

logger = logging.getLogger(__name__)

DEFAULT_MANUAL_ACCOUNT = "manual"


def parse_time(text: str) -> datetime:
    """ISO 8601 with a timezone (``2025-01-02T10:00:00Z``), or Unix time in milliseconds."""
    value = text.strip()
    if value.isdigit():
        ms = int(value)
        return datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=ms % 1000 * 1000)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"time {text!r} is not ISO 8601 (e.g. 2025-01-02T10:00:00Z) or Unix milliseconds"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone: add Z for UTC or an offset like +01:00")
    return parsed.astimezone(UTC)


def parse_pair(text: str) -> tuple[str, str]:
    """``BTC-USDT``, ``BTC/USDT`` or ``btc-usdt`` -> ``("BTC", "USDT")``."""
    parts = text.strip().upper().replace("/", "-").split("-")
    if len(parts) != 2 or not all(part.isalnum() for part in parts):
        raise ValueError(f"pair {text!r} is not BASE-QUOTE, e.g. BTC-USDT")
    return parts[0], parts[1]


def _amount(text: str, field: str, *, positive: bool) -> Decimal:
    """``text`` parsed within the money bounds; ``AmountError`` naming ``field`` otherwise."""
    try:
        value = parse_decimal(text, field=field)
    except AmountError as exc:
        if exc.out_of_bounds:
            raise
        raise AmountError(field, text, "is not a number", out_of_bounds=False) from None
    if positive and value <= 0:
        raise AmountError(field, text, "must be greater than zero", out_of_bounds=False)
    return value


def _usage(exc: ValueError, hint: str) -> UsageError:
    """A bad amount as a UsageError; the hint states the bounds when they were the problem."""
    if isinstance(exc, AmountError) and exc.out_of_bounds:
        hint = BOUNDS_HINT
    return UsageError(str(exc), hint=hint)


def _derived_id(prefix: str, parts: list[str], occurrence: int) -> str:
    digest = hashlib.sha256("\x1f".join([*parts, str(occurrence)]).encode()).hexdigest()
    return f"{prefix}:{digest[:24]}"


def trade_from_fields(
    account: str,
    fields: Mapping[str, str],
    *,
    origin: str,
    occurrence: int = 0,
) -> Trade:
    """A Trade from text fields; raises ValueError naming the bad field."""
    at = parse_time(fields.get("time", ""))
    base, quote = parse_pair(fields.get("pair", ""))
    side_text = fields.get("side", "").strip().lower()
    if side_text not in ("buy", "sell"):
        raise ValueError(f"side {fields.get('side', '')!r} must be buy or sell")
    amount = _amount(fields.get("amount", ""), "amount", positive=True)
    price = _amount(fields.get("price", ""), "price", positive=True)
    fee = _amount(fields.get("fee") or "0", "fee", positive=False)
    fee_asset = (fields.get("fee_asset") or "").strip().upper() or (quote if fee else None)
    if fee_asset is not None and not fee_asset.isalnum():
        raise ValueError(f"fee_asset {fields.get('fee_asset')!r} is not an asset code")
    given = (fields.get("trade_id") or "").strip()
    if given:
        trade_id = f"{origin}:{given}"
    else:
        parts = [at.isoformat(), base, quote, side_text, str(amount), str(price), str(fee)]
        trade_id = _derived_id(origin, [*parts, fee_asset or ""], occurrence)
    return Trade(
        account=account,
        trade_id=trade_id,
        at=at,
        base=base,
        quote=quote,
        side=TradeSide(side_text),
        amount=amount,
        price=price,
        fee=fee,
        fee_asset=fee_asset,
        origin=origin,
    )


def _ensure_account(
    store: Store, name: str, *, portfolio: str | None, create: bool
) -> tuple[AccountSpec, bool]:
    try:
        spec = store.get_account(name=name)
    except NotFoundError:
        if not create:
            raise
        spec = store.add_account(
            spec=AccountSpec(
                exchange=MANUAL_EXCHANGE, name=name, portfolio=portfolio or "main", status="ok"
            )
        )
        logger.info("created manual account %s", name)
        return spec, True
    if portfolio is not None and spec.portfolio != portfolio:
        raise ConflictError(
            f"account {name!r} is in portfolio {spec.portfolio!r}, not {portfolio!r}",
            hint=f"Move it with `keyfolio account move {name} --portfolio {portfolio}`, "
            "or name another account with --account.",
        )
    return spec, False


def add_trade(
    app: App,
    *,
    account: str,
    pair: str,
    side: str,
    amount: str,
    price: str,
    fee: str = "0",
    fee_asset: str | None = None,
    at: str | None = None,
    trade_id: str | None = None,
) -> tuple[Trade, bool]:
    """Record one trade by hand; creates a manual account of that name if there is none.

    Returns the trade and whether its account was created. ``ConflictError`` if the same
    trade (same content, or the same ``trade_id``) is recorded already.
    """
    fields = {
        "time": at or datetime.now(UTC).isoformat(),
        "pair": pair,
        "side": side,
        "amount": amount,
        "price": price,
        "fee": fee,
        "fee_asset": fee_asset or "",
        "trade_id": trade_id or "",
    }
    try:
        trade = trade_from_fields(account, fields, origin="manual")
    except ValueError as exc:
        raise _usage(exc, "See `keyfolio trade add --help`.") from None
    with app.db().session() as store:
        _spec, created = _ensure_account(store, account, portfolio=None, create=True)
        if store.history.add_trades([trade]) == 0:
            raise ConflictError(
                f"this trade is recorded already in {account!r} ({trade.trade_id})",
                hint="To record a second, identical trade give it its own --id.",
            )
    return trade, created


def list_trades(app: App, *, account: str | None = None) -> list[Trade]:
    """Stored trades (of one account, or of all), oldest first."""
    with app.db().session(read_only=True) as store:
        return store.history.trades(accounts=None if account is None else [account])


def _manual_amounts(store: Store, name: str) -> dict[str, Decimal]:
    return {row.asset: row.amount for row in store.balances(account=name, include_excluded=True)}


def _write_holdings(
    store: Store, name: str, amounts: Mapping[str, Decimal]
) -> tuple[SourceResult, datetime]:
    result = SourceResult(source=Source.TRADING, status=SourceStatus.OK, amounts=dict(amounts))
    at = datetime.now(UTC)
    store.record_sync(name=name, results=[result], synced_at=at)
    return result, at


def _snapshot(app: App, name: str, written: tuple[SourceResult, datetime]) -> None:
    """Holdings count in the value series from the moment they are entered."""
    from keyfolio.services.snapshots import record_snapshots

    result, at = written
    record_snapshots(app, account=name, results=[result], at=at)


def _manual_spec(store: Store, name: str, portfolio: str | None) -> tuple[AccountSpec, bool]:
    spec, created = _ensure_account(store, name, portfolio=portfolio, create=True)
    if spec.exchange != MANUAL_EXCHANGE:
        raise ConflictError(
            f"account {name!r} is a linked {spec.exchange} account: its balances come from sync",
            hint="Holdings entered by hand go into a manual account: leave out --account "
            "(it defaults to 'manual') or name a new one.",
        )
    return spec, created


def add_holding(
    app: App,
    *,
    asset: str,
    amount: str,
    account: str = DEFAULT_MANUAL_ACCOUNT,
    portfolio: str | None = None,
) -> tuple[Decimal, bool]:
    """Add ``amount`` of ``asset`` to a manual account (created on first use).

    Returns the new total of that asset and whether the account was created.
    """
    code = asset.strip().upper()
    if not code.isalnum() or len(code) > 64:
        raise UsageError(f"{asset!r} is not an asset code", hint="For example: BTC.")
    try:
        value = _amount(amount, "amount", positive=True)
    except ValueError as exc:
        raise _usage(exc, "Give the amount held, e.g. 0.25.") from None
    with app.db().session() as store:
        _spec, created = _manual_spec(store, account, portfolio)
        amounts = _manual_amounts(store, account)
        _refuse_stored(account, amounts)
        new_total = total([amounts.get(code, ZERO), value])
        problem = INPUT.problem(new_total)
        if problem is not None:
            raise UsageError(
                f"{account!r} would then hold {new_total} {code}, which {problem}",
                hint=f"Nothing was changed. {BOUNDS_HINT}",
            )
        amounts[code] = new_total
        written = _write_holdings(store, account, amounts)
    _snapshot(app, account, written)
    return amounts[code], created


def _refuse_stored(account: str, amounts: Mapping[str, Decimal]) -> None:
    """Adding or removing rewrites every holding of the account: not while one of
    ``amounts`` is outside the bounds (stored by an older keyfolio), which would write it
    again; the hint says to remove that one first."""
    for asset, held in sorted(amounts.items()):
        problem = INPUT.problem(held)
        if problem is not None:
            raise UsageError(
                f"{account!r} holds a stored {asset} amount {held} that {problem}",
                hint=f"It was stored by an older keyfolio. Remove it with `keyfolio holding "
                f"remove {asset} --account {account}`, then add the right amount.",
            )


def remove_holding(
    app: App,
    *,
    asset: str,
    amount: str | None = None,
    account: str = DEFAULT_MANUAL_ACCOUNT,
) -> Decimal:
    """Remove a holding (or ``amount`` of it) from a manual account; returns what is left."""
    code = asset.strip().upper()
    with app.db().session() as store:
        spec = store.get_account(name=account)
        if spec.exchange != MANUAL_EXCHANGE:
            raise ConflictError(
                f"account {account!r} is a linked {spec.exchange} account",
                hint="Only holdings of manual accounts can be removed by hand.",
            )
        amounts = _manual_amounts(store, account)
        if code not in amounts:
            raise NotFoundError(
                f"account {account!r} holds no {code}",
                hint="See what it holds with `keyfolio holding list`.",
            )
        _refuse_stored(account, {asset: held for asset, held in amounts.items() if asset != code})
        left = ZERO
        if amount is not None:
            try:
                taken = _amount(amount, "amount", positive=True)
            except ValueError as exc:
                raise _usage(exc, "Give the amount to remove, e.g. 0.1.") from None
            problem = INPUT.problem(amounts[code])
            if problem is not None:
                raise UsageError(
                    f"{account!r} holds a stored {code} amount {amounts[code]} that {problem}",
                    hint=f"Remove the whole holding: `keyfolio holding remove {code} --account "
                    f"{account}` (leave out the amount).",
                )
            left = subtract(amounts[code], taken)
            if left < 0:
                raise UsageError(
                    f"account {account!r} holds only {amounts[code]} {code}",
                    hint="Leave out the amount to remove the whole holding.",
                )
        amounts[code] = left
        written = _write_holdings(store, account, amounts)
    _snapshot(app, account, written)
    return left


def list_holdings(app: App, *, account: str | None = None) -> dict[str, dict[str, Decimal]]:
    """The holdings of every manual account (or of one), by account and asset."""
    with app.db().session(read_only=True) as store:
        specs = [store.get_account(name=account)] if account else store.list_accounts()
        return {
            spec.name: _manual_amounts(store, spec.name)
            for spec in specs
            if spec.exchange == MANUAL_EXCHANGE
        }
