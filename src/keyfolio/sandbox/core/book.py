"""The venue-neutral books of a sandbox: Decimal balances per source, fills, transfers, tickers.

A :class:`Book` is built once from a validated state and is then changed only by the control API
(trades, balance and price changes). Ids are generated deterministically, so two servers started
from the same file answer the same ids. Venues render these records in their own JSON shapes.
The tickers, USD prices and price changes are :mod:`keyfolio.sandbox.core.market`'s (its names
are re-exported here).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from keyfolio.sandbox.core.clock import now_ms  # the serving sandbox's clock, for the venues
from keyfolio.sandbox.core.market import (
    STABLE_USD,
    BookError,
    MarketBook,
    OnSymbol,
    Ticker,
    parse_amount,
)
from keyfolio.sandbox.core.state import CommonState

__all__ = [
    "FEE_RATE",
    "STABLE_USD",
    "Account",
    "Book",
    "BookError",
    "Fill",
    "Key",
    "Ticker",
    "Transfer",
    "digest",
    "now_ms",
    "parse_amount",
]

logger = logging.getLogger(__name__)

FEE_RATE = Decimal("0.001")
Side = Literal["buy", "sell"]


def digest(*parts: str) -> str:
    """A stable hex digest of ``parts`` (deterministic ids and txids)."""
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Key:
    """An API key: common permission words, the account it reads, its IP binding."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    permissions: frozenset[str]
    account: str
    ip: str = ""
    label: str = ""
    passphrase: str | None = field(default=None, repr=False)

    @property
    def can_read(self) -> bool:
        return "read_only" in self.permissions

    @property
    def can_trade(self) -> bool:
        return "trade" in self.permissions

    @property
    def can_withdraw(self) -> bool:
        return "withdraw" in self.permissions


@dataclass
class Fill(OnSymbol):
    """One spot fill. ``fee`` is paid in ``fee_asset`` (positive), a rebate is negative."""

    id: int
    symbol: str
    side: Side
    price: Decimal
    amount: Decimal
    fee: Decimal
    fee_asset: str
    ts: int
    order_id: int
    maker: bool = False

    @property
    def notional(self) -> Decimal:
        return self.price * self.amount

    def changes(self) -> dict[str, Decimal]:
        """The balance change of each asset caused by this fill, fee included."""
        sign = 1 if self.side == "buy" else -1
        moves = {self.base: sign * self.amount, self.quote: -sign * self.notional}
        moves[self.fee_asset] = moves.get(self.fee_asset, Decimal(0)) - self.fee
        return moves


@dataclass
class Transfer:
    """A deposit or withdrawal. ``fee`` (withdrawals) is paid on top of ``amount``."""

    id: str
    asset: str
    amount: Decimal
    fee: Decimal
    txid: str
    ts: int
    status: str  # ok, pending, failed
    network: str
    address: str = ""


@dataclass
class Account:
    """One account: balances per source, fills (by id), deposits and withdrawals (by time)."""

    name: str
    uid: str
    balances: dict[str, dict[str, Decimal]]
    fills: list[Fill] = field(default_factory=list)
    deposits: list[Transfer] = field(default_factory=list)
    withdrawals: list[Transfer] = field(default_factory=list)
    updated: dict[str, int] = field(default_factory=dict)  # asset -> ms of its last change

    def source(self, name: str) -> dict[str, Decimal]:
        """The ``{asset: amount}`` map of one source (created empty on first use)."""
        return self.balances.setdefault(name, {})

    def next_fill_id(self) -> int:
        return max((f.id for f in self.fills), default=0) + 1


def uid_for(name: str) -> str:
    """A stable numeric uid for an account name (9 digits, as Binance and Bybit use)."""
    return str(int(digest("uid", name)[:12], 16) % 900_000_000 + 100_000_000)


def _transfer(name: str, kind: str, index: int, state: object) -> Transfer:
    from keyfolio.sandbox.core.state import CommonTransfer

    assert isinstance(state, CommonTransfer)
    return Transfer(
        id=state.id or f"{kind[0]}{index + 1}",
        asset=state.asset,
        amount=Decimal(state.amount),
        fee=Decimal(state.fee),
        txid=state.txid if state.txid is not None else "0x" + digest(kind, name, str(index)),
        ts=state.ts,
        status=state.status,
        network=state.network or state.asset,
        address=state.address,
    )


class Book(MarketBook[Account]):
    """Everything one venue's sandbox serves, in Decimal, mutated only through its methods.

    The tickers, USD prices and price changes are :class:`MarketBook`'s.
    ``trading_source`` is the source a control-API trade settles in (spot, unified, wallets...).
    ``fee_in_quote``: the venue charges every fee in the quote currency (Coinbase), not in what
    the trade receives.
    """

    def __init__(
        self,
        state: CommonState,
        *,
        sources: tuple[str, ...],
        trading_source: str,
        start_ms: int | None = None,
        fee_in_quote: bool = False,
    ) -> None:
        super().__init__(state.tickers, start_ms=start_ms)
        self.sources = sources
        self.trading_source = trading_source
        self.fee_in_quote = fee_in_quote
        self.keys: dict[str, Key] = {
            key.api_key: Key(
                api_key=key.api_key,
                secret=key.secret,
                permissions=key.permissions,
                account=key.account,
                ip=key.ip,
                label=key.label,
                passphrase=key.passphrase,
            )
            for key in state.keys
        }
        for name, acc in state.accounts.items():
            account = Account(
                name=name,
                uid=acc.uid or uid_for(name),
                balances={
                    source: {asset: Decimal(v) for asset, v in amounts.items()}
                    for source, amounts in acc.maps().items()
                },
            )
            ordered = sorted(enumerate(acc.fills), key=lambda pair: (pair[1].ts, pair[0]))
            for number, (_, fill) in enumerate(ordered, start=1):
                base, quote = fill.symbol.split("-")
                received = base if fill.side == "buy" else quote
                fee_asset = fill.fee_asset or (quote if fee_in_quote else received)
                fill_id = int(fill.id) if fill.id and fill.id.isdigit() else number
                account.fills.append(
                    Fill(fill_id, fill.symbol, fill.side, Decimal(fill.price),
                         Decimal(fill.amount), Decimal(fill.fee), fee_asset, fill.ts,
                         order_id=10_000_000 + fill_id, maker=fill.maker)
                )  # fmt: skip
            account.fills.sort(key=lambda f: f.id)
            account.deposits = sorted(
                (_transfer(name, "deposit", i, d) for i, d in enumerate(acc.deposits)),
                key=lambda t: t.ts,
            )
            account.withdrawals = sorted(
                (_transfer(name, "withdrawal", i, w) for i, w in enumerate(acc.withdrawals)),
                key=lambda t: t.ts,
            )
            self.accounts[name] = account

    # -- lookups ------------------------------------------------------------------------------

    def assets(self) -> list[str]:
        """Every asset named by a ticker or held anywhere, sorted."""
        found = self.ticker_assets()
        for account in self.accounts.values():
            for amounts in account.balances.values():
                found.update(amounts)
        return sorted(found)

    # -- control operations -------------------------------------------------------------------

    def trade(
        self, name: str, symbol: str, side: str, amount_text: str, price_text: str | None
    ) -> tuple[Fill, list[str]]:
        """A spot trade in the trading source at ``price`` (default: last), with a 0.1 % fee.

        The fee is charged in what is received (base on a buy, quote on a sell), or always in the
        quote with ``fee_in_quote``. Returns the fill and the assets whose balance changed.
        """
        account = self.account(name)
        ticker = self.market(symbol)
        if side not in ("buy", "sell"):
            raise BookError("side must be 'buy' or 'sell'")
        amount = parse_amount(amount_text, what="amount", positive=True)
        price = (
            ticker.last
            if price_text is None
            else parse_amount(price_text, what="price", positive=True)
        )
        holdings = account.source(self.trading_source)
        fee_asset = ticker.quote if self.fee_in_quote or side == "sell" else ticker.base
        fee = (price * amount if fee_asset == ticker.quote else amount) * FEE_RATE
        spend_asset, spend = (
            (ticker.quote, price * amount) if side == "buy" else (ticker.base, amount)
        )
        if fee_asset == spend_asset:
            spend += fee
        have = holdings.get(spend_asset, Decimal(0))
        if have < spend:
            raise BookError(
                f"insufficient {spend_asset} in {self.trading_source}: have {have}, need {spend}"
            )
        ts = now_ms()
        fill_id = account.next_fill_id()
        fill = Fill(
            fill_id, symbol, "buy" if side == "buy" else "sell", price, amount, fee, fee_asset, ts,
            order_id=10_000_000 + fill_id,
        )  # fmt: skip
        for asset, change in fill.changes().items():
            holdings[asset] = holdings.get(asset, Decimal(0)) + change
            account.updated[asset] = ts
        account.fills.append(fill)
        logger.info("sandbox trade %s %s %s %s @ %s", name, side, amount, symbol, price)
        return fill, sorted(fill.changes())

    def set_balance(self, name: str, source: str, asset: str, amount_text: str) -> None:
        """Set the balance of ``asset`` in one source of the account."""
        account = self.account(name)
        if source not in self.sources:
            raise BookError(f"source must be one of {', '.join(self.sources)}")
        if not asset or not all(c.isalnum() or c == "." for c in asset) or asset.upper() != asset:
            raise BookError("asset must be an upper-case asset code such as BTC")
        account.source(source)[asset] = parse_amount(amount_text, what="amount")
        account.updated[asset] = now_ms()
