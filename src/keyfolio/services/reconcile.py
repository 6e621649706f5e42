"""`keyfolio reconcile` and ``GET /api/v1/reconcile``: the imported history against the balances.

Reads the database only (no network): for every exchange account (manual accounts have no
exchange balance to check), the latest stored balances of every source and the imported trades,
transfers and ledger entries. The arithmetic and the causes are in
:mod:`keyfolio.analytics.reconcile` (docs/analytics.md, "Reconciliation").
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from keyfolio.analytics.reconcile import Cause, ReconcileReport, reconcile
from keyfolio.domain.balances import Source
from keyfolio.domain.money import RefusedValue, format_amount, total
from keyfolio.errors import UsageError
from keyfolio.services.bounds import check_balances, check_ledger, check_trades, check_transfers
from keyfolio.services.context import App

__all__ = [
    "CAUSE_LABEL",
    "CAUSE_TEXT",
    "EARN_SOURCES",
    "Reconciliation",
    "reconcile_accounts",
    "reconcile_to_json",
]

logger = logging.getLogger(__name__)

#: Sources where a balance earns rewards (interest, staking) that may arrive without a bill.
EARN_SOURCES = frozenset({Source.SAVINGS, Source.LOCKED_EARN, Source.ONCHAIN_EARN, Source.STAKED})

#: Each cause in a few words, and what it means: for the faces (the dashboard has the same).
CAUSE_LABEL: dict[Cause, str] = {
    Cause.NO_HISTORY: "no history imported",
    Cause.HISTORY_BEFORE_WINDOW: "history before the window",
    Cause.UNPARSED_BILL_TYPE: "an unparsed bill type",
    Cause.EARN_INTEREST: "earn interest",
    Cause.MISSING_OUTFLOW: "an outflow the history lacks",
}
CAUSE_TEXT: dict[Cause, str] = {
    Cause.NO_HISTORY: "no trades, transfers or bills of this account are imported yet: run "
    "`keyfolio sync`, or `keyfolio import csv` for older trades",
    Cause.HISTORY_BEFORE_WINDOW: "held, bought or deposited before the imported history "
    "begins (exchange APIs reach back a few months), or a deposit the import does not have",
    Cause.UNPARSED_BILL_TYPE: "ledger entries of a kind keyfolio does not read: their amounts "
    "are left out of the implied balance",
    Cause.EARN_INTEREST: "rewards credited to an earn position without a bill (the excess is "
    "at most a tenth of what is held in earn)",
    Cause.MISSING_OUTFLOW: "the exchange reports less than the history implies: a withdrawal, "
    "fee or transfer out that the import does not have",
}


@dataclass(frozen=True)
class Reconciliation:
    """The report and the stored values left out of it (outside the money bounds)."""

    report: ReconcileReport
    refused: list[RefusedValue] = field(default_factory=list)


def reconcile_accounts(
    app: App, *, account: str | None = None, portfolio: str | None = None
) -> Reconciliation:
    """Reconcile one account, the accounts of one portfolio, or every exchange account."""
    with app.db().session(read_only=True) as store:
        if account is not None:
            spec = store.get_account(name=account)
            if spec.is_manual:
                raise UsageError(
                    f"'{account}' is a manual account: no exchange reports its balances.",
                    hint="Reconcile an exchange account (`keyfolio account list`).",
                )
            specs = [spec]
        else:
            if portfolio is not None:
                store.get_portfolio(name=portfolio)
            specs = [
                spec for spec in store.list_accounts(portfolio=portfolio) if not spec.is_manual
            ]
        names = sorted(spec.name for spec in specs)
        stored = [row for row in store.balances(include_excluded=True) if row.account in names]
        trades = store.history.trades(accounts=names) if names else []
        transfers = store.history.transfers(accounts=names) if names else []
        ledger = store.history.ledger(accounts=names) if names else []
    rows, bad_rows = check_balances(stored, {spec.name: spec.exchange for spec in specs})
    trades, bad_trades = check_trades(trades)
    transfers, bad_transfers = check_transfers(transfers)
    ledger, bad_entries = check_ledger(ledger)
    parts: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    earn_parts: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for row in rows:
        parts[(row.account, row.asset)].append(row.amount)
        if row.source in EARN_SOURCES:
            earn_parts[(row.account, row.asset)].append(row.amount)
    report = reconcile(
        names,
        reported={key: total(values) for key, values in parts.items()},
        earn={key: total(values) for key, values in earn_parts.items()},
        trades=trades,
        transfers=transfers,
        ledger=ledger,
    )
    logger.debug("reconciled %d accounts: %d differences", len(names), len(report.differences))
    return Reconciliation(
        report=report, refused=[*bad_rows, *bad_trades, *bad_transfers, *bad_entries]
    )


def reconcile_to_json(report: ReconcileReport) -> dict[str, Any]:
    """``{"accounts": [{"account", "assets": [{"asset", "reported", "implied", "difference",
    "cause"}]}]}``: decimals as exact strings, ``cause`` one of :class:`Cause` or ``null``
    when the history explains the balance."""
    return {
        "accounts": [
            {
                "account": item.account,
                "assets": [
                    {
                        "asset": row.asset,
                        "reported": format_amount(row.reported),
                        "implied": format_amount(row.implied),
                        "difference": format_amount(row.difference),
                        "cause": None if row.cause is None else row.cause.value,
                    }
                    for row in item.assets
                ],
            }
            for item in report.accounts
        ]
    }
