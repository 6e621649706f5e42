"""Reconciliation: does the imported history explain the balances the exchange reports?

For every account and asset (Decimal only, every sum exact):

```
implied    = deposits - withdrawals +- trades - fees +- transfers +- earn rewards
difference = reported - implied
```

* **deposits**: transfers in whose status is ``ok``;
* **withdrawals**: transfers out whose status is ``ok`` or ``pending`` (the exchange takes a
  pending withdrawal off the balance at once; a failed or cancelled one is given back), with
  their fee;
* **trades**: spot fills (``SPOT``, ``MARGIN``): a buy adds the base and spends
  ``amount x price`` of the quote, a sell the reverse; derivatives move no spot balance;
* **fees**: each fill's fee, in its fee asset (a rebate, a negative fee, adds);
* **transfers** and **earn rewards**: ledger entries of the kinds in :data:`LEDGER_KINDS` that
  the trades and transfers do not already show (a ``trade`` entry counts only when it names no
  imported spot fill: a derivative's P/L, a fill the import missed);
* **reported**: the sum of the account's stored balances of the asset over every source.

A difference other than zero gets its likely :class:`Cause`, see :func:`likely_cause`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from keyfolio.domain.history import LedgerEntry, Trade, TradeSide, Transfer, TransferKind
from keyfolio.domain.money import money_context

__all__ = [
    "EARN_INTEREST_SHARE",
    "LEDGER_KINDS",
    "AccountReconciliation",
    "AssetReconciliation",
    "Cause",
    "LedgerRole",
    "ReconcileReport",
    "likely_cause",
    "reconcile",
]

ZERO = Decimal(0)

#: The excess of an asset held in an earn source counts as earn interest up to this share of
#: the amount held there; a larger one was held before the window.
EARN_INTEREST_SHARE = Decimal("0.1")

_SPOT = frozenset({"SPOT", "MARGIN"})


class Cause(StrEnum):
    """The likely reason a reported balance differs from the one the history implies."""

    NO_HISTORY = "no_history"
    HISTORY_BEFORE_WINDOW = "history_before_window"
    UNPARSED_BILL_TYPE = "unparsed_bill_type"
    EARN_INTEREST = "earn_interest"
    MISSING_OUTFLOW = "missing_outflow"


class LedgerRole(StrEnum):
    """What a ledger entry's kind means for the implied balance."""

    DUPLICATE = "duplicate"  # shown by an imported trade or transfer: not counted again
    INTERNAL = "internal"  # between the account's own sources: nets to zero over the account
    TRANSFER = "transfer"  # another balance change: counted
    REWARD = "reward"  # interest, staking or savings rewards, airdrops: counted


#: The ledger vocabulary (``LedgerEntry.kind``) every venue maps its bill types onto. A kind
#: not listed here is *unparsed*: not counted, and the likely cause of a difference.
LEDGER_KINDS: Mapping[str, LedgerRole] = {
    **dict.fromkeys(
        ("trade", "deposit", "withdrawal", "withdrawal_canceled"), LedgerRole.DUPLICATE
    ),
    **dict.fromkeys(
        (
            "transfer",
            "transfer_from_trading",
            "transfer_to_trading",
            "savings_subscribe",
            "savings_redeem",
            "margin_transfer",
        ),
        LedgerRole.INTERNAL,
    ),
    **dict.fromkeys(
        (
            "transfer_to_sub",
            "transfer_from_sub",
            "strategy_transfer",
            "delivery",
            "auto_conversion",
            "system_conversion",
            "liquidation",
            "funding_fee",
            "adl",
            "clawback",
            "ddh",
            "block_trade",
            "quick_margin",
            "repay",
            "interest",
            "fee",
            "adjustment",
        ),
        LedgerRole.TRANSFER,
    ),
    **dict.fromkeys(
        ("reward", "earn_reward", "staking_reward", "savings_interest", "airdrop", "bonus"),
        LedgerRole.REWARD,
    ),
}


@dataclass(frozen=True)
class AssetReconciliation:
    """One asset of one account: what the exchange reports, what the history implies.

    ``flows`` splits ``implied`` into ``deposits``, ``withdrawals``, ``trades``, ``fees``,
    ``transfers`` and ``rewards`` (signed: a withdrawal is negative). ``unparsed`` sums the
    ledger entries of unknown kinds (``unparsed_kinds``), left out; ``opening`` is the balance
    before the first imported ledger entry of each source, summed (``None``: no entry says).
    ``earn`` is the part of ``reported`` held in earn sources.
    """

    asset: str
    reported: Decimal
    implied: Decimal
    cause: Cause | None
    flows: Mapping[str, Decimal] = field(default_factory=dict)
    unparsed: Decimal = ZERO
    unparsed_kinds: tuple[str, ...] = ()
    opening: Decimal | None = None
    earn: Decimal = ZERO

    @property
    def difference(self) -> Decimal:
        with money_context():
            return self.reported - self.implied


@dataclass(frozen=True)
class AccountReconciliation:
    """Every asset of one account; ``since`` is its oldest imported record (None: none)."""

    account: str
    assets: list[AssetReconciliation]
    since: datetime | None = None

    def asset(self, name: str) -> AssetReconciliation:
        """The row of ``name`` (KeyError when it has none)."""
        for row in self.assets:
            if row.asset == name:
                return row
        raise KeyError(name)


@dataclass(frozen=True)
class ReconcileReport:
    accounts: list[AccountReconciliation]

    def account(self, name: str) -> AccountReconciliation:
        """The reconciliation of ``name`` (KeyError when it is not in the report)."""
        for item in self.accounts:
            if item.account == name:
                return item
        raise KeyError(name)

    @property
    def differences(self) -> list[tuple[str, AssetReconciliation]]:
        """``(account, row)`` of every row whose difference is not zero."""
        return [(a.account, row) for a in self.accounts for row in a.assets if row.cause]


def likely_cause(
    difference: Decimal,
    *,
    has_history: bool,
    unparsed: Decimal,
    opening: Decimal | None,
    earn: Decimal,
) -> Cause | None:
    """The likely cause of a difference (``None`` when it is zero), first match wins:

    1. ``no_history``: the account has no imported history at all;
    2. ``unparsed_bill_type``: entries of unknown ledger kinds add up to the difference;
    3. ``history_before_window``: the ledger's opening balances add up to the difference;
    4. ``unparsed_bill_type``: there are entries of unknown kinds for the asset;
    5. ``earn_interest``: more is reported than implied, the asset is held in an earn source,
       and the excess is at most :data:`EARN_INTEREST_SHARE` of the amount held there;
    6. ``history_before_window``: more is reported than implied (bought or deposited before
       the imported history begins, or a deposit the import does not have);
    7. ``missing_outflow``: less is reported than implied (a withdrawal, fee or transfer out
       that the imported history does not have).
    """
    if difference == ZERO:
        return None
    if not has_history:
        return Cause.NO_HISTORY
    if unparsed and unparsed == difference:
        return Cause.UNPARSED_BILL_TYPE
    if opening and opening == difference:
        return Cause.HISTORY_BEFORE_WINDOW
    if unparsed:
        return Cause.UNPARSED_BILL_TYPE
    if difference > ZERO:
        with money_context():
            if earn > ZERO and difference <= earn * EARN_INTEREST_SHARE:
                return Cause.EARN_INTEREST
        return Cause.HISTORY_BEFORE_WINDOW
    return Cause.MISSING_OUTFLOW


class _Account:
    """The flows of one account, per asset."""

    def __init__(self) -> None:
        self.flows: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.unparsed: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.first: dict[tuple[str, str], LedgerEntry] = {}
        self.since: datetime | None = None

    def seen(self, at: datetime) -> None:
        self.since = at if self.since is None else min(self.since, at)

    def add(self, asset: str, flow: str, change: Decimal) -> None:
        self.flows[asset][flow] += change


def _trade(account: _Account, trade: Trade) -> None:
    account.seen(trade.at)
    if trade.inst_type in _SPOT:
        spent = trade.amount * trade.price
        sign = 1 if trade.side is TradeSide.BUY else -1
        account.add(trade.base, "trades", trade.amount * sign)
        account.add(trade.quote, "trades", -spent * sign)
    if trade.fee:
        account.add(trade.fee_asset or trade.quote, "fees", -trade.fee)


def _transfer(account: _Account, transfer: Transfer) -> None:
    account.seen(transfer.at)
    if transfer.kind is TransferKind.DEPOSIT:
        if transfer.status == "ok":
            account.add(transfer.asset, "deposits", transfer.amount)
    elif transfer.status in ("ok", "pending"):
        account.add(transfer.asset, "withdrawals", -(transfer.amount + transfer.fee))


def _entry(account: _Account, entry: LedgerEntry, fills: frozenset[str]) -> None:
    account.seen(entry.at)
    key = (entry.source, entry.asset)
    first = account.first.get(key)
    if entry.balance_after is not None and (first is None or entry.at < first.at):
        account.first[key] = entry
    role = LEDGER_KINDS.get(entry.kind)
    if role is LedgerRole.DUPLICATE and entry.kind == "trade" and entry.reference:
        if entry.reference not in fills:
            role = LedgerRole.TRANSFER  # a derivative's P/L, or a fill the import does not have
    if role is None:
        account.unparsed[entry.asset][entry.kind] += entry.change
    elif role is LedgerRole.TRANSFER:
        account.add(entry.asset, "transfers", entry.change)
    elif role is LedgerRole.REWARD:
        account.add(entry.asset, "rewards", entry.change)


def _fill_references(trades: Iterable[Trade]) -> dict[str, frozenset[str]]:
    """Per account, the ids a ledger entry may name a spot fill by: the fill's id, the part
    after its last ``:`` (OKX's ``instId:tradeId``), its order id."""
    found: dict[str, set[str]] = defaultdict(set)
    for trade in trades:
        if trade.inst_type in _SPOT:
            found[trade.account].update({trade.trade_id, trade.trade_id.rpartition(":")[2]})
            if trade.order_id:
                found[trade.account].add(trade.order_id)
    return {account: frozenset(ids) for account, ids in found.items()}


def reconcile(
    accounts: Sequence[str],
    *,
    reported: Mapping[tuple[str, str], Decimal],
    earn: Mapping[tuple[str, str], Decimal],
    trades: Sequence[Trade],
    transfers: Sequence[Transfer],
    ledger: Sequence[LedgerEntry],
) -> ReconcileReport:
    """Reconcile each of ``accounts`` (in that order).

    ``reported`` and ``earn`` map ``(account, asset)`` to the stored balance over every source
    and over the earn sources; ``trades``, ``transfers`` and ``ledger`` are the imported history
    of those accounts (records of other accounts are ignored).
    """
    with money_context():
        books = {name: _Account() for name in accounts}
        fills = _fill_references(trades)
        for trade in trades:
            if trade.account in books:
                _trade(books[trade.account], trade)
        for transfer in transfers:
            if transfer.account in books:
                _transfer(books[transfer.account], transfer)
        for entry in ledger:
            if entry.account in books:
                _entry(books[entry.account], entry, fills.get(entry.account, frozenset()))
        return ReconcileReport([_account(name, books[name], reported, earn) for name in accounts])


def _account(
    name: str,
    book: _Account,
    reported: Mapping[tuple[str, str], Decimal],
    earn: Mapping[tuple[str, str], Decimal],
) -> AccountReconciliation:
    openings: dict[str, Decimal] = defaultdict(Decimal)
    for (_source, asset), entry in book.first.items():
        assert entry.balance_after is not None
        openings[asset] += entry.balance_after - entry.change
    held = {asset for (account, asset), amount in reported.items() if account == name and amount}
    implied = {asset: sum(flows.values(), ZERO) for asset, flows in book.flows.items()}
    assets = held | {asset for asset, amount in implied.items() if amount}
    assets |= {asset for asset, kinds in book.unparsed.items() if any(kinds.values())}
    rows = []
    for asset in sorted(assets):
        amount = reported.get((name, asset), ZERO)
        unparsed = sum(book.unparsed.get(asset, {}).values(), ZERO)
        opening = openings.get(asset)
        in_earn = earn.get((name, asset), ZERO)
        derived = implied.get(asset, ZERO)
        rows.append(
            AssetReconciliation(
                asset=asset,
                reported=amount,
                implied=derived,
                cause=likely_cause(
                    amount - derived,
                    has_history=book.since is not None,
                    unparsed=unparsed,
                    opening=opening,
                    earn=in_earn,
                ),
                flows=dict(book.flows.get(asset, {})),
                unparsed=unparsed,
                unparsed_kinds=tuple(sorted(k for k, v in book.unparsed.get(asset, {}).items())),
                opening=opening,
                earn=in_earn,
            )
        )
    return AccountReconciliation(account=name, assets=rows, since=book.since)
