"""Stored values checked against the money bounds on their way out of the database.

keyfolio refuses amounts outside the bounds of :mod:`keyfolio.domain.money` when they come in,
but an older keyfolio did not, so the database may still hold one (a holding of 1e30, a
balance or a trade read before the bounds existed). Such a value is never used: every reader
(`show`, `history`, `pnl`, the API) leaves it out, shows the rest, and reports it as a
:class:`~keyfolio.domain.money.RefusedValue` naming the account and asset with what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from keyfolio.domain.accounts import MANUAL_EXCHANGE
from keyfolio.domain.history import LedgerEntry, Trade, Transfer
from keyfolio.domain.money import INPUT, PRICE, VALUE, RefusedValue
from keyfolio.domain.records import BalanceRecord, Price

__all__ = [
    "check_balances",
    "check_ledger",
    "check_prices",
    "check_snapshot",
    "check_trades",
    "check_transfers",
    "refused_to_json",
]

logger = logging.getLogger(__name__)


_warned: set[str] = set()


def _refused(
    where: str,
    account: str | None,
    asset: str | None,
    field: str,
    value: Decimal,
    reason: str,
    hint: str,
) -> RefusedValue:
    refused = RefusedValue(where, account, asset, field, value, reason, hint)
    if refused.message not in _warned:  # once per process: `serve` reads it on every request
        _warned.add(refused.message)  # INFO: the command's own output already shows it
        logger.info("%s", refused.message)
    return refused


def check_balances(
    rows: Iterable[BalanceRecord], exchanges: Mapping[str, str]
) -> tuple[list[BalanceRecord], list[RefusedValue]]:
    """``(kept, refused)``: balance rows whose amount is within the bounds, and the others.

    ``exchanges`` maps account names to their exchange, for the hint (a manual holding is
    removed by hand; an exchange balance is read again by a sync).
    """
    kept: list[BalanceRecord] = []
    refused: list[RefusedValue] = []
    for row in rows:
        problem = INPUT.problem(row.amount)
        if problem is None:
            kept.append(row)
            continue
        if exchanges.get(row.account) == MANUAL_EXCHANGE:
            hint = (
                f"Remove it with `keyfolio holding remove {row.asset} --account {row.account}`, "
                "then add the right amount with `keyfolio holding add`."
            )
        else:
            hint = (
                f"Read the account again with `keyfolio sync --account {row.account}`; if "
                "the exchange still reports this amount, its source fails and says why."
            )
        where = f"{row.source.value} balance"
        refused.append(_refused(where, row.account, row.asset, "amount", row.amount, problem, hint))
    return kept, refused


def check_prices(prices: Mapping[str, Price]) -> tuple[dict[str, Price], list[RefusedValue]]:
    """``(kept, refused)``: stored prices within the bounds of a USD price, and the others.

    An asset whose price is refused counts as unpriced until the next price refresh; one whose
    ``open24h`` price alone is refused keeps its price, without the 24 h open.
    """
    kept: dict[str, Price] = {}
    refused: list[RefusedValue] = []
    for asset, price in prices.items():
        problem = PRICE.problem(price.usd)
        if problem is not None:
            hint = f"Run `keyfolio sync` to refresh the prices; until then {asset} is unpriced."
            refused.append(_refused("price", None, asset, "price", price.usd, problem, hint))
            continue
        opened = price.open24h_usd
        problem = None if opened is None else PRICE.problem(opened)
        if opened is not None and problem is not None:
            hint = f"Run `keyfolio sync` to refresh the prices; until then {asset} has no 24h open."
            refused.append(_refused("price", None, asset, "open24h", opened, problem, hint))
            price = replace(price, open24h_usd=None)
        kept[asset] = price
    return kept, refused


_HISTORY_HINT = (
    "It was stored by an older keyfolio and is left out of the P/L. If you entered it by hand "
    "or from a CSV file, record the right one with `keyfolio trade add` or `keyfolio import csv`."
)


def check_trades(trades: Sequence[Trade]) -> tuple[list[Trade], list[RefusedValue]]:
    """``(kept, refused)``: trades whose amount, price and fee are within the bounds."""
    kept: list[Trade] = []
    refused: list[RefusedValue] = []
    admits = INPUT.admits
    for trade in trades:
        if admits(trade.amount) and admits(trade.price) and admits(trade.fee):
            kept.append(trade)
            continue
        for field, value in (("amount", trade.amount), ("price", trade.price), ("fee", trade.fee)):
            problem = INPUT.problem(value)
            if problem is not None:
                where = f"trade {trade.trade_id}"
                refused.append(
                    _refused(where, trade.account, trade.base, field, value, problem, _HISTORY_HINT)
                )
                break
    return kept, refused


def check_transfers(transfers: Sequence[Transfer]) -> tuple[list[Transfer], list[RefusedValue]]:
    """``(kept, refused)``: transfers whose amount and fee are within the bounds."""
    kept: list[Transfer] = []
    refused: list[RefusedValue] = []
    for transfer in transfers:
        problem, field, value = INPUT.problem(transfer.amount), "amount", transfer.amount
        if problem is None:
            problem, field, value = INPUT.problem(transfer.fee), "fee", transfer.fee
        if problem is None:
            kept.append(transfer)
            continue
        where = f"{transfer.kind.value} {transfer.transfer_id}"
        refused.append(
            _refused(where, transfer.account, transfer.asset, field, value, problem, _HISTORY_HINT)
        )
    return kept, refused


def check_ledger(entries: Sequence[LedgerEntry]) -> tuple[list[LedgerEntry], list[RefusedValue]]:
    """``(kept, refused)``: ledger entries whose change and balance are within the bounds."""
    kept: list[LedgerEntry] = []
    refused: list[RefusedValue] = []
    for entry in entries:
        problem, field, value = INPUT.problem(entry.change), "change", entry.change
        if problem is None and entry.balance_after is not None:
            problem, field, value = (
                INPUT.problem(entry.balance_after),
                "balance",
                entry.balance_after,
            )
        if problem is None:
            kept.append(entry)
            continue
        where = f"{entry.source} ledger entry {entry.entry_id}"
        refused.append(
            _refused(where, entry.account, entry.asset, field, value, problem, _LEDGER_HINT)
        )
    return kept, refused


_LEDGER_HINT = (
    "It was stored by an older keyfolio and is left out of `keyfolio reconcile`, which may "
    "then show a difference for this asset."
)


def check_snapshot(
    account: str,
    source: str,
    at: str,
    value: Decimal,
    *,
    amount: Decimal | None = None,
    asset: str | None = None,
) -> RefusedValue | None:
    """A snapshot (a set's total, or one asset's value and amount in it) outside the money
    bounds, as a refusal; None when it is within them."""
    problem, field, number = VALUE.problem(value), "value", value
    if problem is None and amount is not None:
        problem, field, number = INPUT.problem(amount), "amount", amount
    if problem is None:
        return None
    hint = (
        "This snapshot was recorded by an older keyfolio; the value series carries the "
        "source's previous snapshot over it."
    )
    return _refused(f"{source} snapshot at {at}", account, asset, field, number, problem, hint)


def refused_to_json(refused: Iterable[RefusedValue]) -> list[dict[str, Any]]:
    """``[{"where", "account", "asset", "field", "value", "reason", "message", "hint"}]``;
    ``value`` is the stored number as text (``"1E+30"``)."""
    return [
        {
            "where": item.where,
            "account": item.account,
            "asset": item.asset,
            "field": item.field,
            "value": str(item.value),
            "reason": item.reason,
            "message": item.message,
            "hint": item.hint,
        }
        for item in refused
    ]
