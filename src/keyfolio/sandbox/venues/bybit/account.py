"""Bybit V5 balance and key answers: the Unified wallet, the Funding account, Earn positions, the
API key's permissions, the account mode and the coin list.

Sources (state keys) and their endpoints: ``unified`` -> ``/v5/account/wallet-balance
?accountType=UNIFIED``; ``fund`` -> ``/v5/asset/transfer/query-account-coins-balance
?accountType=FUND``; ``earn`` -> ``/v5/earn/position?category=FlexibleSaving``; the optional
``earn_onchain`` -> ``/v5/earn/position?category=OnChain``. Earn principal has left the wallets,
so the sources never overlap; an LST-mode OnChain position (``SOL``) is listed beside the swap
coin (``BBSOL``) the state holds in a wallet.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from keyfolio.sandbox.core.book import Account, Book, Key, digest
from keyfolio.sandbox.venues.bybit.auth import failure
from keyfolio.sandbox.venues.bybit.views import (
    Params,
    Row,
    account_of,
    coins_param,
    plain,
    product_id,
)

__all__ = [
    "account_info",
    "coin_balance",
    "coin_info",
    "coins_balance",
    "earn_position",
    "query_api",
    "wallet_balance",
    "wallet_row",
]

_DAY_MS = 86_400_000
_EIGHT = Decimal("0.00000001")


def _usd(book: Book, asset: str, amount: Decimal) -> Decimal:
    price = book.usd_price(asset)
    if price is None:
        return Decimal(0)
    return (amount * price).quantize(_EIGHT, ROUND_HALF_EVEN)


def _coin_row(book: Book, asset: str, amount: Decimal) -> Row:
    return {
        "coin": asset, "equity": plain(amount), "usdValue": plain(_usd(book, asset, amount)),
        "walletBalance": plain(amount), "locked": "0", "spotHedgingQty": "0",
        "borrowAmount": "0", "availableToWithdraw": "", "accruedInterest": "0",
        "totalOrderIM": "0", "totalOrderMM": "0", "totalPositionIM": "0",
        "totalPositionMM": "0", "unrealisedPnl": "0", "cumRealisedPnl": "0", "bonus": "0",
        "marginCollateral": True, "collateralSwitch": True, "availableToBorrow": "",
        "spotBorrow": "0",
    }  # fmt: skip


def wallet_row(book: Book, acct: Account, coins: Iterable[str] | None) -> Row:
    """One ``UNIFIED`` account object: the listed coins (even at zero), else every non-zero one."""
    holdings = acct.balances.get("unified", {})
    if coins is None:
        chosen = [(a, v) for a, v in sorted(holdings.items()) if v != 0]
    else:
        chosen = [(a, holdings.get(a, Decimal(0))) for a in coins]
    total = sum((_usd(book, a, v) for a, v in holdings.items()), Decimal(0))
    equity = plain(total)
    return {
        "accountType": "UNIFIED", "accountLTV": "0", "accountIMRate": "0",
        "accountMMRate": "0", "accountIMRateByMp": "0", "accountMMRateByMp": "0",
        "totalEquity": equity, "totalWalletBalance": equity, "totalMarginBalance": equity,
        "totalAvailableBalance": equity, "totalPerpUPL": "0", "totalInitialMargin": "0",
        "totalInitialMarginByMp": "0", "totalMaintenanceMargin": "0",
        "totalMaintenanceMarginByMp": "0",
        "coin": [_coin_row(book, a, v) for a, v in chosen],
    }  # fmt: skip


def wallet_balance(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/account/wallet-balance?accountType=UNIFIED`` [``coin=BTC,ETH``]."""
    account_type = params.get("accountType", "")
    if not account_type:
        raise failure(10001, detail="accountType is required")
    if account_type != "UNIFIED":
        raise failure(10001, detail="accountType only support UNIFIED.")
    acct = account_of(book, key)
    return {"list": [wallet_row(book, acct, coins_param(params))]}


def _fund_row(asset: str, amount: Decimal) -> Row:
    text = plain(amount)
    return {"coin": asset, "walletBalance": text, "transferBalance": text, "bonus": ""}


def _account_type(params: Params) -> str:
    account_type = params.get("accountType", "")
    if account_type not in ("FUND", "UNIFIED"):
        raise failure(10001, detail="accountType is invalid")
    return account_type


def coins_balance(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/asset/transfer/query-account-coins-balance?accountType=FUND`` [``coin``]; zero rows
    are listed. With ``accountType=UNIFIED`` ``coin`` is mandatory (at most 10)."""
    account_type = _account_type(params)
    acct = account_of(book, key)
    coins = coins_param(params, most=10)
    if account_type == "UNIFIED" and coins is None:
        raise failure(10001, detail="coin is required for accountType UNIFIED")
    holdings = acct.balances.get("fund" if account_type == "FUND" else "unified", {})
    chosen = sorted(holdings) if coins is None else coins
    return {
        "memberId": acct.uid,
        "accountType": account_type,
        "balance": [_fund_row(a, holdings.get(a, Decimal(0))) for a in chosen],
    }


def coin_balance(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/asset/transfer/query-account-coin-balance?accountType=FUND&coin=X``: one object."""
    account_type = _account_type(params)
    coin = params.get("coin", "")
    if not coin:
        raise failure(10001, detail="coin is required")
    acct = account_of(book, key)
    source = "fund" if account_type == "FUND" else "unified"
    amount = plain(acct.balances.get(source, {}).get(coin, Decimal(0)))
    return {
        "accountType": account_type,
        "bizType": 1,
        "accountId": acct.uid,
        "memberId": acct.uid,
        "balance": {"coin": coin, "walletBalance": amount, "transferBalance": amount,
                    "bonus": "0", "transferSafeAmount": "", "ltvTransferSafeAmount": ""},
    }  # fmt: skip


def earn_position(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/earn/position?category=FlexibleSaving|OnChain`` [``coin``, ``productId``].

    Flexible Saving lists fully redeemed positions too (``amount`` ``"0"``); OnChain lists active
    positions only. ``claimableYield`` is OnChain's ``""``.
    """
    category = params.get("category", "")
    if category not in ("FlexibleSaving", "OnChain"):
        raise failure(10001, detail="category is invalid")
    acct = account_of(book, key)
    onchain = category == "OnChain"
    holdings = acct.balances.get("earn_onchain" if onchain else "earn", {})
    rows = []
    for coin, amount in sorted(holdings.items()):
        pid = product_id(category, coin)
        if (onchain and amount == 0) or params.get("coin", coin) != coin:
            continue
        if params.get("productId", pid) != pid:
            continue
        row: Row = {"coin": coin, "productId": pid, "amount": plain(amount), "totalPnl": "0",
                    "claimableYield": "" if onchain else "0", "id": "", "status": "",
                    "orderId": "", "estimateRedeemTime": "", "estimateStakeTime": "",
                    "estimateInterestCalculationTime": "", "settlementTime": ""}  # fmt: skip
        if onchain:
            row.update(id=str(int(digest("pos", acct.uid, coin)[:6], 16)), status="Active",
                       orderId=digest("order", acct.uid, coin)[:32])  # fmt: skip
        rows.append(row)
    return {"list": rows}


def _permissions(key: Key) -> dict[str, list[str]]:
    trade = key.can_trade or not (key.can_withdraw or key.can_trade)  # read-only: every area
    wallet = ["AccountTransfer", "SubMemberTransfer"] + (["Withdraw"] if key.can_withdraw else [])
    return {
        "ContractTrade": ["Order", "Position"] if trade else [],
        "Spot": ["SpotTrade"] if trade else [],
        "Wallet": wallet,
        "Options": ["OptionsTrade"] if trade else [],
        "Derivatives": ["DerivativesTrade"] if trade else [],
        "Exchange": ["ExchangeHistory"],
        "Earn": ["Earn"],
        "CopyTrading": [],
        "BlockTrade": [],
        "NFT": [],
        "Affiliate": [],
    }


def query_api(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/user/query-api``: the key in Bybit's words. ``readOnly`` is 1 unless the key can
    trade or withdraw; a read-only key lists its areas too, as Bybit's own example does."""
    assert key is not None
    acct = book.account(key.account)
    bound = [part.strip() for part in key.ip.split(",") if part.strip()]
    created = book.start_ms - 7 * _DAY_MS
    expires = "1970-01-01T00:00:00Z"
    deadline = -2
    if not bound:  # an unbound key expires 90 days after it was created
        deadline = 83
        expires = _iso(created + 90 * _DAY_MS)
    return {
        "id": str(int(digest("key-id", key.api_key)[:7], 16)),
        "note": key.label,
        "apiKey": key.api_key,
        "readOnly": 0 if (key.can_trade or key.can_withdraw) else 1,
        "secret": "",
        "permissions": _permissions(key),
        "ips": bound or ["*"],
        "type": 1,
        "deadlineDay": deadline,
        "expiredAt": expires,
        "createdAt": _iso(created),
        "unified": 0,
        "uta": 1,
        "userID": int(acct.uid),
        "inviterID": 0,
        "vipLevel": "No VIP",
        "mktMakerLevel": "0",
        "affiliateID": 0,
        "rsaPublicKey": "",
        "isMaster": True,
        "parentUid": "0",
        "kycLevel": "LEVEL_1",
        "kycRegion": "",
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def account_info(book: Book, key: Key | None, params: Params) -> Row:
    """``/v5/account/info``: a Unified Trading Account 2.0 (``unifiedMarginStatus`` 5)."""
    acct = account_of(book, key)
    updated = max(acct.updated.values(), default=book.start_ms)
    return {"marginMode": "REGULAR_MARGIN", "updatedTime": str(updated),
            "unifiedMarginStatus": 5, "isMasterTrader": False, "spotHedgingStatus": "OFF",
            "dcpStatus": "OFF", "timeWindow": 10, "smpGroup": 0}  # fmt: skip


def coin_info(book: Book, key: Key | None, params: Params) -> dict[str, Any]:
    """``/v5/asset/coin/query-info`` [``coin``]: every asset, one chain each."""
    wanted = params.get("coin")
    rows = [
        {"name": asset, "coin": asset, "remainAmount": "1000000",
         "chains": [{"chainType": asset, "confirmation": "12", "withdrawFee": "0.0005",
                     "depositMin": "0", "withdrawMin": "0.001", "chain": asset,
                     "chainDeposit": "1", "chainWithdraw": "1", "minAccuracy": "8",
                     "withdrawPercentageFee": "0", "contractAddress": ""}]}
        for asset in book.assets()
        if not wanted or asset == wanted
    ]  # fmt: skip
    return {"rows": rows}
