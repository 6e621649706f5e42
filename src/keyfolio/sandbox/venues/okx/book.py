"""The sandbox's live books: Decimal balances, fills with ids, tickers and USD prices.

A :class:`Book` is built from a validated :class:`SandboxState` (which it does not modify)
and is then changed only by the control API (trades, balance and price changes). All ids
are generated deterministically, so two servers started from the same file answer the
same ids.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal

from keyfolio.sandbox.core.book import BookError, now_ms
from keyfolio.sandbox.venues.okx.archive import Archives
from keyfolio.sandbox.venues.okx.state import (
    AccountState,
    DepositState,
    EarnState,
    FillState,
    KeyState,
    SandboxState,
    TickerState,
    WithdrawalState,
)

__all__ = [
    "FEE_RATE",
    "STABLE_USD",
    "Account",
    "Book",
    "BookError",
    "Earn",
    "Fill",
    "Savings",
    "Ticker",
    "default_chain",
]

logger = logging.getLogger(__name__)

FEE_RATE = Decimal("0.001")
STABLE_USD = frozenset({"USD", "USDT", "USDC"})
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


def _digest(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


def _decimal(text: str, *, what: str, positive: bool = False) -> Decimal:
    if not isinstance(text, str):
        raise BookError(f'{what} must be a JSON string such as "0.5"')
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BookError(f"{what}: {text!r} is not a decimal number") from None
    if not value.is_finite() or value < 0 or (positive and value == 0):
        limit = "greater than zero" if positive else "zero or more"
        raise BookError(f"{what}: {text!r} must be {limit}")
    return value


@dataclass
class Ticker:
    """A SPOT ticker with Decimal prices."""

    inst_id: str
    last: Decimal
    open24h: Decimal
    high24h: Decimal
    low24h: Decimal
    vol24h: Decimal
    ts: int

    @property
    def base(self) -> str:
        """The base currency (``BTC`` of ``BTC-USDT``)."""
        return self.inst_id.split("-")[0]

    @property
    def quote(self) -> str:
        """The quote currency (``USDT`` of ``BTC-USDT``)."""
        return self.inst_id.split("-")[1]

    @classmethod
    def from_state(cls, inst_id: str, state: TickerState, ts: int) -> Ticker:
        """Build from the state file; ``open24h`` defaults to ``last``."""
        last = Decimal(state.last)
        open24h = Decimal(state.open24h) if state.open24h is not None else last
        high = Decimal(state.high24h) if state.high24h is not None else max(last, open24h)
        low = Decimal(state.low24h) if state.low24h is not None else min(last, open24h)
        vol = Decimal(state.vol24h) if state.vol24h is not None else Decimal(0)
        return cls(inst_id, last, open24h, high, low, vol, ts)


@dataclass
class Fill:
    """One SPOT fill with its generated ids."""

    inst_id: str
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

    @property
    def base(self) -> str:
        """The base currency of the instrument."""
        return self.inst_id.split("-")[0]

    @property
    def quote(self) -> str:
        """The quote currency of the instrument."""
        return self.inst_id.split("-")[1]

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
        inst_id=state.inst_id,
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
        "txId": dep.tx_id if dep.tx_id is not None else _digest("dep", name, str(index)),
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
        "txId": wd.tx_id if wd.tx_id is not None else _digest("wd", name, str(index)),
        "wdId": wd.wd_id or str(250_000_000 + index),
    }


def _uid(name: str) -> str:
    return str(int(_digest("uid", name)[:15], 16) % 10**17 + 10**17)


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


class Book:
    """Everything the sandbox serves, in Decimal, mutated only through its methods."""

    trading_source = "trading"
    """The source a control-API trade settles in (and a balance change pushes)."""

    def __init__(self, state: SandboxState, *, start_ms: int | None = None) -> None:
        self.start_ms = start_ms if start_ms is not None else now_ms()
        self.tickers: dict[str, Ticker] = {
            inst_id: Ticker.from_state(inst_id, t, self.start_ms)
            for inst_id, t in state.tickers.items()
        }
        self.keys: dict[str, KeyState] = {key.api_key: key for key in state.keys}
        self.accounts: dict[str, Account] = {
            name: _account_from_state(name, acc, self.start_ms)
            for name, acc in state.accounts.items()
        }
        self.archives = Archives()
        """The quarterly archive jobs (:mod:`keyfolio.sandbox.venues.okx.archive`)."""

    # -- prices ---------------------------------------------------------------------------

    def usd_price(self, ccy: str, *, opening: bool = False) -> Decimal | None:
        """USD value of one ``ccy``: stablecoins are 1, then -USDT, -USDC, then via -BTC."""
        if ccy in STABLE_USD:
            return Decimal(1)
        for quote in ("USDT", "USDC"):
            ticker = self.tickers.get(f"{ccy}-{quote}")
            if ticker is not None:
                return ticker.open24h if opening else ticker.last
        via_btc = self.tickers.get(f"{ccy}-BTC")
        if via_btc is not None and ccy != "BTC":
            btc = self.usd_price("BTC", opening=opening)
            if btc is not None:
                return (via_btc.open24h if opening else via_btc.last) * btc
        return None

    def currencies(self) -> list[str]:
        """Every currency named by a ticker or held anywhere, sorted."""
        found: set[str] = set()
        for ticker in self.tickers.values():
            found.update((ticker.base, ticker.quote))
        for account in self.accounts.values():
            found.update(account.trading, account.funding, account.savings)
            found.update(e.ccy for e in account.earn)
        return sorted(found)

    def account(self, name: str) -> Account:
        """The named account, or :class:`BookError`."""
        try:
            return self.accounts[name]
        except KeyError:
            raise BookError(f"unknown account {name!r}") from None

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
        ticker = self.tickers.get(inst_id)
        if ticker is None:
            raise BookError(f"unknown instrument {inst_id!r}; add it with /__sandbox__/tickers")
        if side not in ("buy", "sell"):
            raise BookError("side must be 'buy' or 'sell'")
        sz = _decimal(sz_text, what="sz", positive=True)
        px = ticker.last if px_text is None else _decimal(px_text, what="px", positive=True)
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
        amount = _decimal(amount_text, what="amount")
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

    def set_tickers(self, updates: dict[str, object]) -> list[str]:
        """Apply ``{"BTC-USDT": {"last": "61000"}}``; new instruments need ``last``."""
        parsed: dict[str, dict[str, Decimal]] = {}
        for inst_id, fields in updates.items():
            parts = inst_id.split("-")
            if len(parts) != 2 or not all(p.isalnum() and p.upper() == p for p in parts):
                raise BookError(f"{inst_id!r}: instrument ids look like BASE-QUOTE")
            if not isinstance(fields, dict):
                raise BookError(f'{inst_id}: expected an object such as {{"last": "61000"}}')
            unknown = set(fields) - {"last", "open24h", "high24h", "low24h", "vol24h"}
            if unknown:
                raise BookError(f"{inst_id}: unknown ticker fields {sorted(unknown)}")
            values = {
                k: _decimal(v, what=f"{inst_id}.{k}", positive=k != "vol24h")
                for k, v in fields.items()
            }
            if inst_id not in self.tickers and "last" not in values:
                raise BookError(f"{inst_id}: a new instrument needs 'last'")
            parsed[inst_id] = values
        ts = now_ms()
        for inst_id, values in parsed.items():
            ticker = self.tickers.get(inst_id)
            if ticker is None:
                last = values["last"]
                open24h = values.get("open24h", last)
                ticker = Ticker(inst_id, last, open24h, max(last, open24h), min(last, open24h),
                                Decimal(0), ts)  # fmt: skip
                self.tickers[inst_id] = ticker
            for name, value in values.items():
                setattr(ticker, name, value)
            if "high24h" not in values:
                ticker.high24h = max(ticker.high24h, ticker.last)
            if "low24h" not in values:
                ticker.low24h = min(ticker.low24h, ticker.last)
            ticker.ts = ts
        return sorted(parsed)
