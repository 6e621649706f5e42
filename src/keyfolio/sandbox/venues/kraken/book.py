"""Kraken's books: its asset codes and pair names, nonces, trades and the ledger they make.

Balances are kept under Kraken's own codes (``XXBT``, ``ZUSD``, ``USDT``, ``ETH2.S``, ``SOL.F``):
each code is a separate row, as ``BalanceEx`` lists them. Tickers and fills use the common codes
of the state (``BTC-USD``); :data:`ASSETS` gives each common code Kraken's asset id and altname,
and pair keys follow Kraken's rule: legacy X/Z assets on both sides concatenate their ids
(``XXBTZUSD``), every other pair is keyed by its altname (``XBTUSDT``, ``SOLUSD``).

A control-API trade settles in ``balances`` with Kraken's default fee: 0.1 % of the cost, paid in
the quote currency on buys and sells alike.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from keyfolio.sandbox.core.book import FEE_RATE, Book, BookError, Fill, Ticker, now_ms, parse_amount
from keyfolio.sandbox.core.state import CommonState

__all__ = [
    "ASSETS",
    "SUFFIXES",
    "AssetRow",
    "KrakenBook",
    "LedgerRow",
    "Pair",
    "base_code",
    "kraken_id",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssetRow:
    """One Kraken asset: its id (``XXBT``), altname (``XBT``) and decimals."""

    id: str
    altname: str
    decimals: int = 8
    display: int = 5

    @property
    def is_legacy(self) -> bool:
        """An X/Z-prefixed id (``XXBT``, ``ZUSD``): pairs of two of them concatenate ids."""
        return self.id != self.altname


ASSETS: dict[str, AssetRow] = {
    "BTC": AssetRow("XXBT", "XBT", 10, 5),
    "ETH": AssetRow("XETH", "ETH", 10, 5),
    "XRP": AssetRow("XXRP", "XRP", 8, 5),
    "LTC": AssetRow("XLTC", "LTC", 10, 5),
    "DOGE": AssetRow("XXDG", "XDG", 8, 2),
    "XLM": AssetRow("XXLM", "XLM", 8, 5),
    "XMR": AssetRow("XXMR", "XMR", 10, 5),
    "ZEC": AssetRow("XZEC", "ZEC", 10, 5),
    "ETC": AssetRow("XETC", "ETC", 10, 5),
    "USD": AssetRow("ZUSD", "USD", 4, 2),
    "EUR": AssetRow("ZEUR", "EUR", 4, 2),
    "GBP": AssetRow("ZGBP", "GBP", 4, 2),
    "CAD": AssetRow("ZCAD", "CAD", 4, 2),
    "JPY": AssetRow("ZJPY", "JPY", 2, 0),
    "USDT": AssetRow("USDT", "USDT", 8, 4),
    "USDC": AssetRow("USDC", "USDC", 8, 4),
    "KFEE": AssetRow("KFEE", "FEE", 2, 2),
}
"""Common code -> Kraken asset (the legacy ones and a few others); any other is its own id."""

SUFFIXES = (".S", ".M", ".F", ".B", ".P", ".T")
"""Kraken's sub-balance suffixes (staked, opt-in rewards, Auto Earn, bonded Earn, parachain,
tokenized), named on the altname: ``XBT.M``, never ``XXBT.M``."""

_PAIR_KEYS = {("USDT", "USD"): "USDTZUSD", ("DOGE", "USD"): "XDGUSD"}
"""Pairs whose key follows neither rule (a client must read keys from AssetPairs)."""
_BY_CODE = {code: row for row in ASSETS.values() for code in (row.id, row.altname)}
_COMMON_OF = {row.id: common for common, row in ASSETS.items()} | {
    row.altname: common for common, row in ASSETS.items()
}
_LEGACY_BASE = {"ETH2": "ETH"}


def asset_row(code: str) -> AssetRow:
    """The asset a Kraken code (id or altname) or a common code names."""
    known = _BY_CODE.get(code) or ASSETS.get(code)
    if known is not None:
        return known
    return AssetRow(code, code, 8, 5)


def kraken_id(common: str) -> str:
    """Kraken's asset id of a common code (``BTC`` -> ``XXBT``)."""
    return asset_row(common).id


def base_code(code: str) -> str:
    """The common code a Kraken balance row belongs to (``XBT.M`` -> BTC, ``ETH2.S`` -> ETH)."""
    stem = code
    for suffix in SUFFIXES:
        if code.endswith(suffix):
            stem = code[: -len(suffix)]
            break
    stem = _LEGACY_BASE.get(stem, stem)
    return _COMMON_OF.get(stem, stem)


def wallet_of(code: str) -> tuple[str, str]:
    """(wallet type, wallet id) of a balance row on the WebSocket: spot/main or an earn wallet."""
    if code.endswith(".F"):
        return "earn", "flex"
    if code.endswith(".B"):
        return "earn", "bonded"
    if any(code.endswith(s) for s in (".S", ".M", ".P")) or code == "ETH2":
        return "earn", "locked"
    return "spot", "main"


def _words(*parts: str, shape: tuple[int, ...] = (6, 5, 6)) -> str:
    """A Kraken-looking id (``THVRQM-33VKH-UCI7BS``) derived from ``parts``, deterministic."""
    raw = base64.b32encode(hashlib.sha256(":".join(parts).encode()).digest()).decode()
    raw = raw.replace("=", "")
    out, start = [], 0
    for width in shape:
        out.append(raw[start : start + width])
        start += width
    return "-".join(out)


@dataclass(frozen=True)
class Pair:
    """One Kraken spot pair: key (``XXBTZUSD``), altname, wsname, base and quote assets."""

    key: str
    altname: str
    wsname: str
    base: AssetRow
    quote: AssetRow
    ticker: Ticker

    @classmethod
    def of(cls, ticker: Ticker) -> Pair:
        base, quote = asset_row(ticker.base), asset_row(ticker.quote)
        altname = base.altname + quote.altname
        key = base.id + quote.id if base.is_legacy and quote.is_legacy else altname
        key = _PAIR_KEYS.get((ticker.base, ticker.quote), key)
        return cls(key, altname, f"{base.altname}/{quote.altname}", base, quote, ticker)


@dataclass(frozen=True)
class LedgerRow:
    """One ledger entry: ``amount`` excludes ``fee``; ``balance`` is the balance after it."""

    id: str
    refid: str
    time_ms: int
    type: str
    asset: str
    amount: Decimal
    fee: Decimal
    balance: Decimal


@dataclass
class KeyState:
    """What Kraken remembers per API key: its last accepted nonce and its call counter."""

    nonce: int = 0
    counter: float = 0.0
    counted_at: float = 0.0
    created_ms: int = field(default_factory=now_ms)
    last_used_ms: int = 0


class KrakenBook(Book):
    """The common books with Kraken's codes, pairs, per-key nonces and ledger."""

    def __init__(self, state: CommonState) -> None:
        super().__init__(state, sources=("balances",), trading_source="balances")
        self.key_states: dict[str, KeyState] = {key: KeyState() for key in self.keys}
        self.tokens: dict[str, str] = {}  # WebSocket token -> API key

    # -- pairs and assets --------------------------------------------------------------------

    def pairs(self) -> dict[str, Pair]:
        """Every pair by its key, sorted."""
        found = [Pair.of(t) for t in self.tickers.values()]
        return {pair.key: pair for pair in sorted(found, key=lambda p: p.key)}

    def pair(self, name: str) -> Pair | None:
        """A pair by its key, altname or wsname (Kraken accepts each)."""
        for pair in self.pairs().values():
            if name in (pair.key, pair.altname, pair.wsname):
                return pair
        return None

    def pair_of(self, symbol: str) -> Pair:
        """The pair of a common ``BASE-QUOTE`` symbol."""
        for pair in self.pairs().values():
            if pair.ticker.symbol == symbol:
                return pair
        raise BookError(f"unknown market {symbol!r}; add it with /__sandbox__/tickers")

    def asset_rows(self) -> dict[str, AssetRow]:
        """Every asset the sandbox knows, by id: the pairs' assets and every held code."""
        rows: dict[str, AssetRow] = {}
        for pair in self.pairs().values():
            rows[pair.base.id] = pair.base
            rows[pair.quote.id] = pair.quote
        for account in self.accounts.values():
            for code in account.source("balances"):
                row = asset_row(code)
                rows.setdefault(row.id, row)
            for transfer in (*account.deposits, *account.withdrawals):
                row = asset_row(transfer.asset)
                rows.setdefault(row.id, row)
        return dict(sorted(rows.items()))

    # -- trades ------------------------------------------------------------------------------

    def trade(
        self, name: str, symbol: str, side: str, amount_text: str, price_text: str | None
    ) -> tuple[Fill, list[str]]:
        """A spot trade at ``price`` (default: last); the fee is 0.1 % of the cost, in quote."""
        account = self.account(name)
        pair = self.pair_of(symbol)
        if side not in ("buy", "sell"):
            raise BookError("side must be 'buy' or 'sell'")
        amount = parse_amount(amount_text, what="amount", positive=True)
        price = pair.ticker.last
        if price_text is not None:
            price = parse_amount(price_text, what="price", positive=True)
        cost = price * amount
        fee = cost * FEE_RATE
        holdings = account.source(self.trading_source)
        base, quote = pair.base.id, pair.quote.id
        spend_code, spend = (quote, cost + fee) if side == "buy" else (base, amount)
        have = holdings.get(spend_code, Decimal(0))
        if have < spend:
            raise BookError(f"insufficient {spend_code}: have {have}, need {spend}")
        sign = 1 if side == "buy" else -1
        changes = {base: sign * amount, quote: -sign * cost - fee}
        ts = now_ms()
        fill_id = account.next_fill_id()
        fill = Fill(fill_id, symbol, "buy" if side == "buy" else "sell", price, amount, fee,
                    pair.ticker.quote, ts, order_id=10_000_000 + fill_id)  # fmt: skip
        for code, change in changes.items():
            holdings[code] = holdings.get(code, Decimal(0)) + change
            account.updated[code] = ts
        account.fills.append(fill)
        logger.info("sandbox trade %s %s %s %s @ %s", name, side, amount, symbol, price)
        return fill, sorted(changes)

    def fill_ids(self, account: str, fill: Fill) -> tuple[str, str]:
        """(trade txid, order txid) of a fill."""
        return (
            _words("trade", account, str(fill.id)),
            _words("order", account, str(fill.order_id)),
        )

    # -- the ledger --------------------------------------------------------------------------

    def ledger(self, name: str) -> list[LedgerRow]:
        """Every ledger entry of the account, newest first, with the balance after each.

        A trade makes two entries (base and quote leg, ``refid`` = the trade txid; the fee on
        the leg of its asset); a deposit or withdrawal one (``refid`` = its reference id).
        Balances are worked back from today's.
        """
        account = self.account(name)
        legs: list[tuple[int, str, str, str, Decimal, Decimal]] = []
        for fill in account.fills:
            pair = self.pair_of(fill.symbol)
            txid, _ = self.fill_ids(name, fill)
            sign = 1 if fill.side == "buy" else -1
            fee_code = asset_row(fill.fee_asset).id
            for code, amount in ((pair.base.id, sign * fill.amount),
                                 (pair.quote.id, -sign * fill.notional)):  # fmt: skip
                fee = fill.fee if code == fee_code else Decimal(0)
                legs.append((fill.ts, txid, "trade", code, amount, fee))
        for deposit in account.deposits:
            legs.append((deposit.ts, self.transfer_refid(name, deposit.id), "deposit",
                         asset_row(deposit.asset).id, deposit.amount, Decimal(0)))  # fmt: skip
        for withdrawal in account.withdrawals:
            legs.append((withdrawal.ts, self.transfer_refid(name, withdrawal.id), "withdrawal",
                         asset_row(withdrawal.asset).id, -withdrawal.amount,
                         withdrawal.fee))  # fmt: skip
        legs.sort(key=lambda leg: (leg[0], leg[1], leg[3]), reverse=True)
        balances = dict(account.source("balances"))
        rows: list[LedgerRow] = []
        for ts, refid, kind, code, amount, fee in legs:
            after = balances.get(code, Decimal(0))
            rows.append(LedgerRow(_words("ledger", name, refid, code), refid, ts, kind, code,
                                  amount, fee, after))  # fmt: skip
            balances[code] = after - amount + fee
        return rows

    def transfer_refid(self, name: str, transfer_id: str) -> str:
        """The reference id Kraken gives a deposit or withdrawal (also its ledger ``refid``)."""
        return "F" + _words("transfer", name, transfer_id, shape=(7, 22)).replace("-", "")

    # -- keys --------------------------------------------------------------------------------

    def key_state(self, api_key: str) -> KeyState:
        return self.key_states.setdefault(api_key, KeyState())
