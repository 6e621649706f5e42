"""Binance balance answers: spot (with the ``LD`` mirror of flexible Earn), funding, Simple Earn,
API-key restrictions and the coin list.

Sources (state keys) and their endpoints: ``spot`` -> ``/api/v3/account`` (every flexible Simple
Earn position is mirrored there as an ``LD<ASSET>`` row, as on Binance); ``funding`` ->
``/sapi/v1/asset/get-funding-asset``; ``earn_flexible`` -> ``/sapi/v1/simple-earn/flexible/
position``; ``earn_locked`` -> ``/sapi/v1/simple-earn/locked/position``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from keyfolio.sandbox.core.book import Account, Book, Key
from keyfolio.sandbox.venues.binance.auth import failure
from keyfolio.sandbox.venues.binance.views import Params, Row, account_of, f8, plain

__all__ = [
    "LD_PREFIX",
    "account",
    "api_restrictions",
    "coins",
    "earn_account",
    "flexible_position",
    "funding_asset",
    "locked_position",
    "no_margin",
    "user_asset",
]

LD_PREFIX = "LD"
_DAY_MS = 86_400_000

# -- balances -------------------------------------------------------------------------------


def _spot_rows(book: Book, acct: Account) -> dict[str, Decimal]:
    """Spot balances plus the ``LD`` mirror of each flexible Earn position."""
    rows = dict.fromkeys(book.assets(), Decimal(0))
    rows.update(acct.balances.get("spot", {}))
    for asset, amount in acct.balances.get("earn_flexible", {}).items():
        if amount > 0:
            rows[LD_PREFIX + asset] = rows.get(LD_PREFIX + asset, Decimal(0)) + amount
    return rows


def account(book: Book, key: Key | None, params: Params) -> Row:
    """``/api/v3/account`` [``omitZeroBalances``]: every asset unless zeros are omitted."""
    acct = account_of(book, key)
    assert key is not None
    omit = params.get("omitZeroBalances", "false").lower() == "true"
    balances = [
        {"asset": asset, "free": f8(amount), "locked": f8(Decimal(0))}
        for asset, amount in sorted(_spot_rows(book, acct).items())
        if not (omit and amount == 0)
    ]
    return {
        "makerCommission": 10,
        "takerCommission": 10,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": "0.00100000",
            "taker": "0.00100000",
            "buyer": "0.00000000",
            "seller": "0.00000000",
        },  # fmt: skip
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": max(acct.updated.values(), default=book.start_ms),
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": int(acct.uid),
    }


def _btc_value(book: Book, asset: str, amount: Decimal) -> str:
    usd, btc = book.usd_price(asset), book.usd_price("BTC")
    if usd is None or not btc:
        return "0"
    return plain((amount * usd / btc).quantize(Decimal("0.00000001"), ROUND_HALF_EVEN))


def _positive(amounts: dict[str, Decimal], params: Params) -> list[tuple[str, Decimal]]:
    wanted = params.get("asset")
    return [(a, v) for a, v in sorted(amounts.items()) if v > 0 and (not wanted or a == wanted)]


def funding_asset(book: Book, key: Key | None, params: Params) -> list[Row]:
    """``POST /sapi/v1/asset/get-funding-asset``: positive funding balances (unpadded)."""
    acct = account_of(book, key)
    valuation = params.get("needBtcValuation", "false").lower() == "true"
    return [
        {"asset": asset, "free": plain(amount), "locked": "0", "freeze": "0", "withdrawing": "0",
         "btcValuation": _btc_value(book, asset, amount) if valuation else "0"}
        for asset, amount in _positive(acct.balances.get("funding", {}), params)
    ]  # fmt: skip


def user_asset(book: Book, key: Key | None, params: Params) -> list[Row]:
    """``POST /sapi/v3/asset/getUserAsset``: positive spot rows (with the LD mirror)."""
    acct = account_of(book, key)
    return [
        {"asset": asset, "free": plain(amount), "locked": "0", "freeze": "0", "withdrawing": "0",
         "ipoable": "0", "btcValuation": "0"}
        for asset, amount in _positive(_spot_rows(book, acct), params)
    ]  # fmt: skip


def _page(rows: list[Row], params: Params) -> Row:
    try:
        current = int(params.get("current") or 1)
        size = int(params.get("size") or 10)
    except ValueError:
        raise failure(-1102, param="current") from None
    if current < 1 or not 1 <= size <= 100:
        raise failure(-1102, param="size" if current >= 1 else "current")
    start = (current - 1) * size
    return {"rows": rows[start : start + size], "total": len(rows)}


def flexible_position(book: Book, key: Key | None, params: Params) -> Row:
    """``/sapi/v1/simple-earn/flexible/position``, paged by ``current``/``size`` (10, max 100)."""
    acct = account_of(book, key)
    rows = [
        {"totalAmount": plain(amount), "tierAnnualPercentageRate": {},
         "latestAnnualPercentageRate": "0.02599895", "yesterdayAirdropPercentageRate": "0",
         "asset": asset, "airDropAsset": "", "canRedeem": True, "collateralAmount": "0",
         "productId": asset + "001", "yesterdayRealTimeRewards": "0",
         "cumulativeBonusRewards": "0", "cumulativeRealTimeRewards": "0",
         "cumulativeTotalRewards": "0", "autoSubscribe": True}
        for asset, amount in _positive(acct.balances.get("earn_flexible", {}), params)
    ]  # fmt: skip
    return _page(rows, params)


def locked_position(book: Book, key: Key | None, params: Params) -> Row:
    """``/sapi/v1/simple-earn/locked/position``: one position per asset, times as ms strings."""
    acct = account_of(book, key)
    rows = []
    for number, (asset, amount) in enumerate(
        _positive(acct.balances.get("earn_locked", {}), params), start=1
    ):
        purchase = book.start_ms - 30 * _DAY_MS
        rows.append(
            {"positionId": 100_000 + number, "parentPositionId": 0,
             "projectId": f"{asset}*90", "asset": asset, "amount": plain(amount),
             "purchaseTime": str(purchase), "duration": "90", "accrualDays": "30",
             "rewardAsset": asset, "APY": "0.05", "rewardAmt": "0", "extraRewardAsset": "",
             "extraRewardAPR": "0", "estExtraRewardAmt": "0", "nextPay": "0",
             "nextPayDate": str(purchase + 31 * _DAY_MS), "payPeriod": "1",
             "redeemAmountEarly": plain(amount), "rewardsEndDate": str(purchase + 90 * _DAY_MS),
             "deliverDate": str(purchase + 91 * _DAY_MS), "redeemPeriod": "1",
             "redeemingAmt": "0", "redeemTo": "SPOT", "partialAmtDeliverDate": "",
             "canRedeemEarly": True, "canFastRedemption": False, "autoSubscribe": True,
             "type": "AUTO", "status": "HOLDING", "canReStake": False}
        )  # fmt: skip
    return _page(rows, params)


def earn_account(book: Book, key: Key | None, params: Params) -> Row:
    """``/sapi/v1/simple-earn/account``: totals in USDT."""
    acct = account_of(book, key)

    def total(source: str) -> Decimal:
        value = Decimal(0)
        for asset, amount in acct.balances.get(source, {}).items():
            price = book.usd_price(asset)
            value += amount * price if price is not None else Decimal(0)
        return value.quantize(Decimal("0.00000001"), ROUND_HALF_EVEN)

    flexible, locked = total("earn_flexible"), total("earn_locked")
    return {"totalAmountInBTC": "0", "totalAmountInUSDT": plain(flexible + locked),
            "totalFlexibleAmountInBTC": "0", "totalFlexibleAmountInUSDT": plain(flexible),
            "totalLockedInBTC": "0", "totalLockedInUSDT": plain(locked)}  # fmt: skip


def api_restrictions(book: Book, key: Key | None, params: Params) -> Row:
    """``/sapi/v1/account/apiRestrictions``: the key's flags in Binance's words."""
    assert key is not None
    return {
        "ipRestrict": bool(key.ip),
        "createTime": book.start_ms - 90 * _DAY_MS,
        "enableReading": key.can_read,
        "enableWithdrawals": key.can_withdraw,
        "enableInternalTransfer": False,
        "enableMargin": False,
        "enableFutures": False,
        "permitsUniversalTransfer": False,
        "enableVanillaOptions": False,
        "enableFixApiTrade": False,
        "enableFixReadOnly": key.can_read,
        "enableSpotAndMarginTrading": key.can_trade,
        "enablePortfolioMarginTrading": False,
    }


def coins(book: Book, key: Key | None, params: Params) -> list[Row]:
    """``/sapi/v1/capital/config/getall``: every asset, one default network each."""
    acct = account_of(book, key)
    spot = acct.balances.get("spot", {})
    return [
        {"coin": asset, "depositAllEnable": True, "withdrawAllEnable": True, "name": asset,
         "free": plain(spot.get(asset, Decimal(0))), "locked": "0", "freeze": "0",
         "withdrawing": "0", "ipoing": "0", "ipoable": "0", "storage": "0",
         "isLegalMoney": asset in ("USD", "EUR"), "trading": True,
         "networkList": [{"network": asset, "coin": asset, "withdrawIntegerMultiple": "0.00000001",
                          "isDefault": True, "depositEnable": True, "withdrawEnable": True,
                          "depositDesc": "", "withdrawDesc": "", "name": asset,
                          "resetAddressStatus": False, "withdrawFee": "0.0005",
                          "withdrawMin": "0.001", "withdrawMax": "9999999", "minConfirm": 1,
                          "unLockConfirm": 0, "sameAddress": False, "busy": False}]}
        for asset in book.assets()
    ]  # fmt: skip


def no_margin(book: Book, key: Key | None, params: Params) -> list[Row]:
    """The margin pair lists: the sandbox offers no margin."""
    return []
