"""Private REST rows for balances, earn, valuation and config, in OKX's exact shapes.

Each function returns the ``data`` list of one endpoint (every number a string, empty
values ``""``) or raises :class:`OkxFailure` for a bad parameter, as OKX does.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from keyfolio.sandbox.venues.okx.book import Account, Book, default_chain
from keyfolio.sandbox.venues.okx.protocol import failure, fmt, now_ms
from keyfolio.sandbox.venues.okx.state import KeyState

__all__ = [
    "account_balance",
    "account_config",
    "asset_balances",
    "asset_currencies",
    "asset_valuation",
    "balance_snapshot",
    "eth_staking_balance",
    "positions",
    "savings_balance",
    "staking_orders",
]

Row = dict[str, Any]
Query = Mapping[str, str]


def _ccy_filter(query: Query) -> set[str] | None:
    raw = query.get("ccy", "")
    wanted = {part.strip() for part in raw.split(",") if part.strip()}
    return wanted or None


# -- account ------------------------------------------------------------------------------


def account_config(book: Book, account: Account, key: KeyState) -> list[Row]:
    """``/api/v5/account/config``: the key's ``perm``/``ip``/``label`` and the account uid."""
    return [
        {
            "acctLv": "2",
            "acctStpMode": "cancel_maker",
            "autoLoan": False,
            "ctIsoMode": "automatic",
            "enableSpotBorrow": False,
            "greeksType": "PA",
            "ip": key.ip,
            "kycLv": "2",
            "label": key.label,
            "level": "Lv1",
            "levelTmp": "",
            "liquidationGear": "-1",
            "mainUid": account.uid,
            "mgnIsoMode": "automatic",
            "opAuth": "0",
            "perm": key.perm,
            "posMode": "net_mode",
            "roleType": "0",
            "settleCcy": "USDT",
            "settleCcyList": ["USD", "USDC", "USDG"],
            "spotBorrowAutoRepay": False,
            "spotOffsetType": "",
            "spotRoleType": "0",
            "spotTraderInsts": [],
            "traderInsts": [],
            "type": "0",
            "uid": account.uid,
        }
    ]


def _detail(book: Book, account: Account, ccy: str, amount: Decimal, *, ws: bool) -> Row:
    price = book.usd_price(ccy)
    eq_usd = amount * price if price is not None else Decimal(0)
    row: Row = {
        "accAvgPx": "",
        "availBal": fmt(amount),
        "availEq": fmt(amount),
        "borrowFroz": "",
        "cashBal": fmt(amount),
        "ccy": ccy,
        "clSpotInUseAmt": "",
        "colBorrAutoConversion": "0",
        "collateralEnabled": False,
        "collateralRestrict": False,
        "crossLiab": "",
        "disEq": fmt(eq_usd),
        "eq": fmt(amount),
        "eqUsd": fmt(eq_usd),
        "fixedBal": "0",
        "frozenBal": "0",
        "imr": "",
        "interest": "",
        "isoEq": "0",
        "isoLiab": "",
        "isoUpl": "0",
        "liab": "",
        "maxLoan": "",
        "maxSpotInUse": "",
        "mgnRatio": "",
        "mmr": "",
        "notionalLever": "",
        "openAvgPx": "",
        "ordFrozen": "0",
        "rewardBal": "",
        "smtSyncEq": "0",
        "spotBal": "",
        "spotCopyTradingEq": "0",
        "spotInUseAmt": "",
        "spotIsoBal": "0",
        "spotUpl": "",
        "spotUplRatio": "",
        "stgyEq": "0",
        "totalPnl": "",
        "totalPnlRatio": "",
        "twap": "0",
        "uTime": str(account.utime.get(ccy, book.start_ms)),
        "upl": "0",
        "uplLiab": "",
    }
    if ws:
        row["coinUsdPrice"] = fmt(price)
    return row


def balance_snapshot(
    book: Book,
    account: Account,
    ccys: set[str] | None = None,
    *,
    ws: bool = False,
    include_zero: frozenset[str] = frozenset(),
) -> Row:
    """The ``/account/balance`` ``data[0]`` object (also the WS ``account`` push body).

    ``details[]`` lists only non-zero currencies (filtered by ``ccys``); ``include_zero``
    forces currencies that just dropped to zero into a WS update. ``totalEq`` is the USD
    value of the whole trading account.
    """
    total = Decimal(0)
    details: list[Row] = []
    for ccy in sorted(account.trading):
        amount = account.trading[ccy]
        price = book.usd_price(ccy)
        if price is not None:
            total += amount * price
        if (amount == 0 and ccy not in include_zero) or (ccys is not None and ccy not in ccys):
            continue
        details.append(_detail(book, account, ccy, amount, ws=ws))
    return {
        "adjEq": "",
        "availEq": "",
        "borrowFroz": "",
        "details": details,
        "imr": "",
        "isoEq": "0",
        "mgnRatio": "",
        "mmr": "",
        "notionalUsd": "",
        "notionalUsdForBorrow": "",
        "notionalUsdForFutures": "",
        "notionalUsdForOption": "",
        "notionalUsdForSwap": "",
        "ordFroz": "",
        "totalEq": fmt(total),
        "uTime": str(now_ms()),
        "upl": "0",
    }


def account_balance(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/account/balance`` (trading account), optional ``ccy`` comma filter."""
    return [balance_snapshot(book, account, _ccy_filter(query))]


def positions(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/account/positions``: a SPOT-only sandbox has no positions."""
    return []


# -- funding, earn ------------------------------------------------------------------------


def asset_balances(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/asset/balances`` (funding account): only balances above zero."""
    wanted = _ccy_filter(query)
    return [
        {"availBal": fmt(amount), "bal": fmt(amount), "ccy": ccy, "frozenBal": "0"}
        for ccy, amount in sorted(account.funding.items())
        if amount > 0 and (wanted is None or ccy in wanted)
    ]


def asset_currencies(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/asset/currencies``: one main chain per known currency."""
    wanted = _ccy_filter(query)
    rows: list[Row] = []
    for ccy in book.currencies():
        if wanted is not None and ccy not in wanted:
            continue
        rows.append(
            {
                "burningFeeRate": "",
                "canDep": True,
                "canInternal": True,
                "canWd": True,
                "ccy": ccy,
                "chain": default_chain(ccy),
                "ctAddr": "",
                "depEstOpenTime": "",
                "depQuotaFixed": "",
                "depQuoteDailyLayer2": "",
                "fee": "0.0001",
                "logoLink": "",
                "mainNet": True,
                "maxFee": "0.0002",
                "maxFeeForCtAddr": "",
                "maxWd": "10000000",
                "minDep": "0.00001",
                "minDepArrivalConfirm": "2",
                "minFee": "0.0001",
                "minFeeForCtAddr": "",
                "minInternal": "0.0001",
                "minWd": "0.001",
                "minWdUnlockConfirm": "4",
                "name": ccy,
                "needTag": False,
                "usedDepQuotaFixed": "",
                "usedWdQuota": "0",
                "wdEstOpenTime": "",
                "wdQuota": "10000000",
                "wdTickSz": "8",
            }
        )
    return rows


def savings_balance(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/finance/savings/balance`` (Simple Earn flexible)."""
    wanted = _ccy_filter(query)
    return [
        {
            "amt": fmt(pos.amt),
            "ccy": ccy,
            "earnings": fmt(pos.earnings),
            "loanAmt": fmt(pos.loan_amt if pos.loan_amt is not None else pos.amt),
            "pendingAmt": fmt(pos.pending_amt),
            "rate": fmt(pos.rate),
            "redemptAmt": "",
        }
        for ccy, pos in sorted(account.savings.items())
        if pos.amt > 0 and (wanted is None or ccy in wanted)
    ]


def staking_orders(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/finance/staking-defi/orders-active`` (On-chain Earn)."""
    filters = {k: query.get(k, "") for k in ("productId", "protocolType", "ccy", "state")}
    rows: list[Row] = []
    for earn in account.earn:
        values = {
            "productId": earn.product_id,
            "protocolType": earn.protocol_type,
            "ccy": earn.ccy,
            "state": earn.state,
        }
        if earn.amt <= 0 or any(f and values[k] != f for k, f in filters.items()):
            continue
        rows.append(
            {
                "ccy": earn.ccy,
                "ordId": earn.ord_id,
                "productId": earn.product_id,
                "state": earn.state,
                "protocol": earn.protocol,
                "protocolType": earn.protocol_type,
                "term": "0",
                "apy": fmt(earn.apy),
                "investData": [{"ccy": earn.ccy, "amt": fmt(earn.amt)}],
                "earningData": [
                    {"ccy": earn.earning_ccy, "earningType": "0", "earnings": fmt(earn.earnings)}
                ],
                "fastRedemptionData": [],
                "purchasedTime": str(earn.purchased_time),
                "estSettlementTime": "",
                "cancelRedemptionDeadline": "",
                "tag": "",
            }
        )
    return rows


def eth_staking_balance(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/finance/staking-defi/eth/balance``: BETH, empty when the account has none."""
    if account.eth_staking is None:
        return []
    return [
        {
            "amt": fmt(account.eth_staking),
            "ccy": "BETH",
            "latestInterestAccrual": "0",
            "totalInterestAccrual": "0",
            "ts": str(now_ms()),
        }
    ]


def _usd_by_source(book: Book, account: Account) -> dict[str, Decimal]:
    def value(holdings: dict[str, Decimal]) -> Decimal:
        total = Decimal(0)
        for ccy, amount in holdings.items():
            price = book.usd_price(ccy)
            if price is not None:
                total += amount * price
        return total

    earn: dict[str, Decimal] = {}
    for ccy, pos in account.savings.items():
        earn[ccy] = earn.get(ccy, Decimal(0)) + pos.amt
    for item in account.earn:
        earn[item.ccy] = earn.get(item.ccy, Decimal(0)) + item.amt
    return {
        "funding": value(account.funding),
        "trading": value(account.trading),
        "earn": value(earn),
    }


def asset_valuation(book: Book, account: Account, query: Query) -> list[Row]:
    """``/api/v5/asset/asset-valuation``: totals per account type in ``ccy`` (default BTC)."""
    unit = query.get("ccy", "") or "BTC"
    unit_usd = book.usd_price(unit)
    if unit_usd is None or unit_usd == 0:
        raise failure("51000", param="ccy")
    step = Decimal("0.00000001")
    parts = {
        k: (v / unit_usd).quantize(step, ROUND_HALF_EVEN)
        for k, v in _usd_by_source(book, account).items()
    }
    total = sum(parts.values(), Decimal(0))
    return [
        {
            "details": {
                "classic": "0",
                "earn": fmt(parts["earn"]),
                "funding": fmt(parts["funding"]),
                "trading": fmt(parts["trading"]),
            },
            "totalBal": fmt(total),
            "ts": str(now_ms()),
        }
    ]
