"""OKX's live books: Decimal balances per OKX source, Simple and On-chain Earn, fills with bill ids.

A :class:`Book` is built from a validated :class:`SandboxState` (which it does not modify)
and is then changed only by the control API (trades, balance and price changes). All ids
are generated deterministically, so two servers started from the same file answer the
same ids. Tickers, USD prices and price changes are the core's
(:class:`~keyfolio.sandbox.core.market.MarketBook`); what is here is what OKX answers beyond them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar, Literal

from keyfolio.sandbox.core.book import FEE_RATE, BookError, digest, now_ms
from keyfolio.sandbox.core.market import MarketBook, OnSymbol, parse_amount
from keyfolio.sandbox.venues.okx.archive import Archives
from keyfolio.sandbox.venues.okx.state import (
    AccountState,
    DepositState,
    EarnState,
    FillState,
    KeyState,
    SandboxState,
    WithdrawalState,
)

__all__ = ["Account", "Book", "Earn", "Fill", "Savings", "default_chain"]

logger = logging.getLogger(__name__)

_CHAINS = {
    "BTC": "Bitcoin",
    "ETH": "ERC20",
    "USDT": "TRC20",
    "USDC": "ERC20",
    "SOL": "Solana",
    "OKB": "X Layer",
    "DOT": "Polkadot",
    "TRX": "TRC20",
}
Source = Literal["trading", "funding", "savings", "onchain_earn"]
SOURCES: tuple[Source, ...] = ("trading", "funding", "savings", "onchain_earn")


def default_chain(ccy: str) -> str:
    """OKX's chain id for a currency's main network, e.g. ``BTC-Bitcoin``."""
    return f"{ccy}-{_CHAINS.get(ccy, 'ERC20')}"


@dataclass
class Fill(OnSymbol):
    """One SPOT fill with its generated ids; ``symbol`` is its ``instId``."""

    symbol: str
    side: Literal["buy", "sell"]
    px: Decimal
    sz: Decimal
    fee: Decimal
    fee_ccy: str
    ts: int
    bill_id: int
    trade_id: str
    ord_id: str
    exec_type: str = "T"

    def changes(self) -> dict[str, Decimal]:
        """The trading-balance change of each currency caused by this fill (fee included)."""
        notional = self.px * self.sz
        sign = 1 if self.side == "buy" else -1
        moves = {self.base: sign * self.sz, self.quote: -sign * notional}
        moves[self.fee_ccy] = moves.get(self.fee_ccy, Decimal(0)) + self.fee
        return moves


@dataclass
class Savings:
    """A Simple Earn flexible position."""

    amt: Decimal
    earnings: Decimal = Decimal(0)
    rate: Decimal = Decimal("0.01")
    loan_amt: Decimal | None = None
    pending_amt: Decimal = Decimal(0)


@dataclass
class Earn:
    """An On-chain Earn order."""

    ccy: str
    amt: Decimal
    product_id: str
    protocol: str
    apy: Decimal
    protocol_type: str
    state: str
    earnings: Decimal
    earning_ccy: str
    ord_id: str
    purchased_time: int

    @classmethod
    def from_state(cls, state: EarnState, ord_id: str, default_ts: int) -> Earn:
        """Build from the state file, filling the defaults."""
        return cls(
            ccy=state.ccy,
            amt=Decimal(state.amt),
            product_id=state.product_id,
            protocol=state.protocol,
            apy=Decimal(state.apy),
            protocol_type=state.protocol_type,
            state=state.state,
            earnings=Decimal(state.earnings),
            earning_ccy=state.earning_ccy or state.ccy,
            ord_id=state.ord_id or ord_id,
            purchased_time=int(state.purchased_time) if state.purchased_time else default_ts,
        )


@dataclass
class Account:
    """One account's live balances and history."""

    name: str
    uid: str
    trading: dict[str, Decimal]
    funding: dict[str, Decimal]
    savings: dict[str, Savings]
    earn: list[Earn]
    eth_staking: Decimal | None
    fills: list[Fill] = field(default_factory=list)
    deposits: list[dict[str, object]] = field(default_factory=list)
    withdrawals: list[dict[str, object]] = field(default_factory=list)
    utime: dict[str, int] = field(default_factory=dict)
    _ts_seq: dict[int, int] = field(default_factory=dict)
    _next_trade_id: int = 100_000_001

    def new_ids(self, ts: int, taken: set[int]) -> tuple[int, str, str]:
        """A fresh (billId, tradeId, ordId) for a fill at ``ts``; billIds grow with time."""
        seq = self._ts_seq.get(ts, 0)
        bill_id = ts * 100_000 + 2 * seq
        while bill_id in taken or bill_id + 1 in taken:
            seq += 1
            bill_id = ts * 100_000 + 2 * seq
        self._ts_seq[ts] = seq + 1
        trade_id = str(self._next_trade_id)
        self._next_trade_id += 1
        return bill_id, trade_id, str(bill_id * 10 + 7)


def _fill_from_state(account: Account, state: FillState, taken: set[int]) -> Fill:
    ts = int(state.ts)
    bill_id, trade_id, ord_id = account.new_ids(ts, taken)
    if state.bill_id is not None:
        bill_id = int(state.bill_id)
    taken.update({bill_id, bill_id + 1})
    base, quote = state.inst_id.split("-")
    return Fill(
        symbol=state.inst_id,
        side=state.side,
        px=Decimal(state.fill_px),
        sz=Decimal(state.fill_sz),
        fee=Decimal(state.fee),
        fee_ccy=state.fee_ccy or (base if state.side == "buy" else quote),
        ts=ts,
        bill_id=bill_id,
        trade_id=state.trade_id or trade_id,
        ord_id=state.ord_id or ord_id,
        exec_type=state.exec_type,
    )


def _deposit_row(name: str, index: int, dep: DepositState) -> dict[str, object]:
    return {
        "actualDepBlkConfirm": "2" if dep.state == "2" else "0",
        "amt": dep.amt,
        "areaCodeFrom": "",
        "ccy": dep.ccy,
        "chain": dep.chain or default_chain(dep.ccy),
        "depId": dep.dep_id or str(150_000_000 + index),
        "from": dep.from_,
        "fromWdId": "",
        "state": dep.state,
        "to": dep.to,
        "ts": dep.ts,
        "txId": dep.tx_id if dep.tx_id is not None else digest("dep", name, str(index)),
    }


def _withdrawal_row(name: str, index: int, wd: WithdrawalState) -> dict[str, object]:
    return {
        "amt": wd.amt,
        "areaCodeFrom": "",
        "areaCodeTo": "",
        "ccy": wd.ccy,
        "chain": wd.chain or default_chain(wd.ccy),
        "clientId": "",
        "fee": wd.fee,
        "feeCcy": wd.fee_ccy or wd.ccy,
        "from": wd.from_,
        "memo": "",
        "nonTradableAsset": False,
        "note": "",
        "pmtId": "",
        "state": wd.state,
        "tag": "",
        "to": wd.to,
        "ts": wd.ts,
        "txId": wd.tx_id if wd.tx_id is not None else digest("wd", name, str(index)),
        "wdId": wd.wd_id or str(250_000_000 + index),
    }


def _uid(name: str) -> str:
    return str(int(digest("uid", name)[:15], 16) % 10**17 + 10**17)


def _account_from_state(name: str, state: AccountState, start: int) -> Account:
    account = Account(
        name=name,
        uid=state.uid or _uid(name),
        trading={ccy: Decimal(v) for ccy, v in state.trading.items()},
        funding={ccy: Decimal(v) for ccy, v in state.funding.items()},
        savings={
            ccy: Savings(
                amt=Decimal(s.amt),
                earnings=Decimal(s.earnings),
                rate=Decimal(s.rate),
                loan_amt=Decimal(s.loan_amt) if s.loan_amt is not None else None,
                pending_amt=Decimal(s.pending_amt),
            )
            for ccy, s in state.savings.items()
        },
        earn=[
            Earn.from_state(e, str(30_000_000 + i), start - 86_400_000)
            for i, e in enumerate(state.onchain_earn)
        ],
        eth_staking=Decimal(state.eth_staking) if state.eth_staking is not None else None,
    )
    taken = {int(f.bill_id) for f in state.fills if f.bill_id is not None}
    taken |= {b + 1 for b in taken}
    ordered = sorted(enumerate(state.fills), key=lambda pair: (int(pair[1].ts), pair[0]))
    account.fills = sorted(
        (_fill_from_state(account, fill, taken) for _, fill in ordered), key=lambda f: f.bill_id
    )
    deps = sorted(enumerate(state.deposits), key=lambda p: (int(p[1].ts), p[0]))
    account.deposits = [_deposit_row(name, i, d) for i, d in deps]
    wds = sorted(enumerate(state.withdrawals), key=lambda p: (int(p[1].ts), p[0]))
    account.withdrawals = [_withdrawal_row(name, i, w) for i, w in wds]
    return account


class Book(MarketBook[Account]):
    """Everything the sandbox serves, in Decimal, mutated only through its methods."""

    trading_source = "trading"
    """The source a control-API trade settles in (and a balance change pushes)."""
    usd_quotes: ClassVar[tuple[str, ...]] = ("USDT", "USDC")
    nouns: ClassVar[tuple[str, str]] = ("instrument", "instrument ids")

    def __init__(self, state: SandboxState, *, start_ms: int | None = None) -> None:
        super().__init__(state.tickers, start_ms=start_ms)
        self.keys: dict[str, KeyState] = {key.api_key: key for key in state.keys}
        self.accounts = {
            name: _account_from_state(name, acc, self.start_ms)
            for name, acc in state.accounts.items()
        }
        self.archives = Archives()
        """The quarterly archive jobs (:mod:`keyfolio.sandbox.venues.okx.archive`)."""

    # -- lookups ------------------------------------------------------------------------

    def currencies(self) -> list[str]:
        """Every currency named by a ticker or held anywhere, sorted."""
        found = self.ticker_assets()
        for account in self.accounts.values():
            found.update(account.trading, account.funding, account.savings)
            found.update(e.ccy for e in account.earn)
        return sorted(found)

    # -- control operations ---------------------------------------------------------------

    def trade(
        self, name: str, inst_id: str, side: str, sz_text: str, px_text: str | None
    ) -> tuple[Fill, list[str]]:
        """Execute a SPOT trade on the trading account at ``px`` (default: last), 0.1 % fee.

        The fee is charged in what is received: the base currency on a buy, the quote
        currency on a sell, and recorded negative (as OKX does). Returns the fill and the
        currencies whose balance changed.
        """
        account = self.account(name)
        ticker = self.market(inst_id)
        if side not in ("buy", "sell"):
            raise BookError("side must be 'buy' or 'sell'")
        sz = parse_amount(sz_text, what="sz", positive=True)
        px = ticker.last if px_text is None else parse_amount(px_text, what="px", positive=True)
        notional = px * sz
        spend_ccy, spend = (ticker.quote, notional) if side == "buy" else (ticker.base, sz)
        have = account.trading.get(spend_ccy, Decimal(0))
        if have < spend:
            raise BookError(f"insufficient {spend_ccy} in trading: have {have}, need {spend}")
        if side == "buy":
            fee, fee_ccy = -(sz * FEE_RATE), ticker.base
        else:
            fee, fee_ccy = -(notional * FEE_RATE), ticker.quote
        ts = now_ms()
        taken = {f.bill_id for f in account.fills} | {f.bill_id + 1 for f in account.fills}
        bill_id, trade_id, ord_id = account.new_ids(ts, taken)
        fill = Fill(
            inst_id, "buy" if side == "buy" else "sell", px, sz, fee, fee_ccy, ts, bill_id,
            trade_id, ord_id,
        )  # fmt: skip
        for ccy, change in fill.changes().items():
            account.trading[ccy] = account.trading.get(ccy, Decimal(0)) + change
            account.utime[ccy] = ts
        account.fills.append(fill)
        account.fills.sort(key=lambda f: f.bill_id)
        logger.info("sandbox trade %s %s %s %s @ %s", name, side, sz, inst_id, px)
        return fill, sorted(fill.changes())

    def set_balance(self, name: str, source: str, ccy: str, amount_text: str) -> None:
        """Set the balance of ``ccy`` in one source (``onchain_earn`` sets investData amt)."""
        account = self.account(name)
        if source not in SOURCES:
            raise BookError(f"source must be one of {', '.join(SOURCES)}")
        if not ccy or not ccy.isalnum() or ccy.upper() != ccy:
            raise BookError("ccy must be an upper-case currency code such as BTC")
        amount = parse_amount(amount_text, what="amount")
        if source == "trading":
            account.trading[ccy] = amount
            account.utime[ccy] = now_ms()
        elif source == "funding":
            account.funding[ccy] = amount
        elif source == "savings":
            current = account.savings.get(ccy)
            if current is None:
                account.savings[ccy] = Savings(amt=amount)
            else:
                current.amt = amount
        else:
            for earn in account.earn:
                if earn.ccy == ccy:
                    earn.amt = amount
                    break
            else:
                account.earn.append(
                    Earn(ccy, amount, f"{ccy.lower()}-sandbox", "Sandbox staking", Decimal("0.05"),
                         "defi", "1", Decimal(0), ccy, str(30_000_000 + len(account.earn)),
                         now_ms())
                )  # fmt: skip
