"""Coinbase balances and the key: Advanced Trade accounts (v3), Coinbase App accounts (v2),
``key_permissions``, portfolios and the fee summary.

The state's ``wallets`` map is one wallet per currency; ``holds`` is the part of a wallet on hold
(``available_balance`` is the rest: the hold is *inside* the balance, never on top). Like
Coinbase, the lists carry a zero wallet for every currency the sandbox knows. Optional
``staked`` (a sandbox addition) gives legacy staking wallets: ``/v2/accounts`` lists them as a
second wallet of the currency named ``Staked <CODE>`` (``primary: false``, ``currency.rewards``);
``/api/v3/brokerage/accounts`` does not (whether Coinbase's v3 does is unverified).
"""

from __future__ import annotations

from decimal import Decimal

from keyfolio.sandbox.core.book import Account, Book
from keyfolio.sandbox.venues.coinbase.common import (
    FIAT,
    Query,
    Row,
    account_of,
    fixed,
    iso,
    iso_ms,
    portfolio_uuid,
    uuid_of,
    v2_failure,
    v2_page,
    v3_failure,
    with_places,
)
from keyfolio.sandbox.venues.coinbase.market import currency_name

__all__ = [
    "WALLETS",
    "key_permissions",
    "portfolios",
    "transaction_summary",
    "v2_account",
    "v2_accounts",
    "v3_account",
    "v3_accounts",
    "wallet_id",
]

WALLETS = "wallets"
_DAY_MS = 86_400_000
_ZERO = Decimal(0)


def wallet_id(account: str, asset: str) -> str:
    """The uuid of an account's wallet of ``asset`` (the same in v2 and v3)."""
    return uuid_of("wallet", account, asset)


def staked_id(account: str, asset: str) -> str:
    return uuid_of("staked", account, asset)


def _currencies(book: Book, acct: Account) -> list[str]:
    return sorted(set(book.assets()) | set(acct.balances.get(WALLETS, {})))


def _created(book: Book) -> int:
    return book.start_ms - 400 * _DAY_MS


def _v3_row(book: Book, acct: Account, asset: str) -> Row:
    total = acct.balances.get(WALLETS, {}).get(asset, _ZERO)
    hold = min(max(acct.balances.get("holds", {}).get(asset, _ZERO), _ZERO), total)
    fiat = asset in FIAT
    return {
        "uuid": wallet_id(acct.name, asset),
        "name": f"Cash ({asset})" if fiat else f"{asset} Wallet",
        "currency": asset,
        "available_balance": {"value": with_places(total - hold, 16), "currency": asset},
        "default": True, "active": True, "created_at": iso_ms(_created(book)),
        "updated_at": iso_ms(acct.updated.get(asset, book.start_ms)), "deleted_at": None,
        "type": "ACCOUNT_TYPE_FIAT" if fiat else "ACCOUNT_TYPE_CRYPTO", "ready": True,
        "hold": {"value": with_places(hold, 16), "currency": asset},
        "retail_portfolio_id": portfolio_uuid(acct.name),
        "platform": "ACCOUNT_PLATFORM_CONSUMER",
    }  # fmt: skip


def _limit(query: Query) -> int:
    raw = query.get("limit")
    if raw and not raw.isdigit():
        raise v3_failure(400, "INVALID_ARGUMENT", "limit must be a positive integer")
    return min(max(int(raw or 49), 1), 250)


def v3_accounts(book: Book, query: Query) -> Row:
    """``GET /api/v3/brokerage/accounts``: ``limit`` (49, at most 250) and ``cursor``."""
    acct = account_of(book, query)
    rows = [_v3_row(book, acct, asset) for asset in _currencies(book, acct)]
    cursor = query.get("cursor")
    if cursor and not cursor.isdigit():
        raise v3_failure(400, "INVALID_ARGUMENT", "invalid cursor")
    start = int(cursor or 0)
    page = rows[start : start + _limit(query)]
    has_next = start + len(page) < len(rows)
    return {"accounts": page, "has_next": has_next,
            "cursor": str(start + len(page)) if has_next else "", "size": len(page)}  # fmt: skip


def v3_account(book: Book, query: Query) -> Row:
    """``GET /api/v3/brokerage/accounts/{account_uuid}``."""
    acct = account_of(book, query)
    wanted = query.match.get("account_uuid", "")
    for asset in _currencies(book, acct):
        if wallet_id(acct.name, asset) == wanted:
            return {"account": _v3_row(book, acct, asset)}
    raise v3_failure(404, "NOT_FOUND", "account not found")


def _currency(asset: str, *, staked: bool) -> Row:
    row: Row = {
        "code": asset, "name": currency_name(asset), "color": "#0052FF", "sort_index": 100,
        "exponent": 2 if asset in FIAT else 8, "type": "fiat" if asset in FIAT else "crypto",
        "address_regex": "" if asset in FIAT else ".+",
        "asset_id": uuid_of("asset", asset), "slug": asset.lower(),
    }  # fmt: skip
    if staked:
        row["rewards"] = {"apy": "0.05", "formatted_apy": "5.00%", "label": "5.00% APY"}
    return row


def _v2_row(book: Book, acct: Account, asset: str, *, staked: bool = False) -> Row:
    source = "staked" if staked else WALLETS
    amount = acct.balances.get(source, {}).get(asset, _ZERO)
    account_id = staked_id(acct.name, asset) if staked else wallet_id(acct.name, asset)
    fiat = asset in FIAT and not staked
    return {
        "id": account_id,
        "name": f"Staked {asset}" if staked else (f"Cash ({asset})" if fiat else f"{asset} Wallet"),
        "primary": not staked, "type": "fiat" if fiat else "wallet",
        "currency": _currency(asset, staked=staked),
        "balance": {"amount": fixed(amount, asset), "currency": asset},
        "created_at": iso(_created(book)),
        "updated_at": iso(acct.updated.get(asset, book.start_ms)),
        "resource": "account", "resource_path": f"/v2/accounts/{account_id}",
        "allow_deposits": not staked, "allow_withdrawals": not staked,
    }  # fmt: skip


def v2_rows(book: Book, acct: Account) -> list[Row]:
    """Every ``/v2`` account: the wallets, then each ``Staked <CODE>`` wallet."""
    rows = [_v2_row(book, acct, asset) for asset in _currencies(book, acct)]
    staked = acct.balances.get("staked", {})
    return rows + [_v2_row(book, acct, asset, staked=True) for asset in sorted(staked)]


def v2_accounts(book: Book, query: Query) -> Row:
    """``GET /v2/accounts``: paged by ``limit``/``starting_after``/``ending_before``."""
    return v2_page(v2_rows(book, account_of(book, query)), query, "/v2/accounts")


def find_v2(book: Book, query: Query) -> Row:
    """The ``/v2`` account a path names: its id, or a currency code (its primary wallet)."""
    acct = account_of(book, query)
    wanted = query.match.get("account_id", "")
    for row in v2_rows(book, acct):
        if row["id"] == wanted or (row["primary"] and row["currency"]["code"] == wanted):
            return row
    raise v2_failure(404, "not_found", "Not found")


def v2_account(book: Book, query: Query) -> Row:
    """``GET /v2/accounts/{account_id}`` (an id, or a currency code such as ``BTC``)."""
    return {"data": find_v2(book, query)}


def key_permissions(book: Book, query: Query) -> Row:
    """``GET /api/v3/brokerage/key_permissions``: the key's scopes in Coinbase's words."""
    key = query.key
    assert key is not None
    return {"can_view": key.can_read, "can_trade": key.can_trade,
            "can_transfer": key.can_withdraw, "portfolio_uuid": portfolio_uuid(key.account),
            "portfolio_type": "DEFAULT"}  # fmt: skip


def portfolios(book: Book, query: Query) -> Row:
    """``GET /api/v3/brokerage/portfolios``: the key's one portfolio."""
    acct = account_of(book, query)
    return {"portfolios": [{"name": "Default", "uuid": portfolio_uuid(acct.name),
                            "type": "DEFAULT", "deleted": False}]}  # fmt: skip


def transaction_summary(book: Book, query: Query) -> Row:
    """``GET /api/v3/brokerage/transaction_summary``: the fee tier (totals are JSON numbers)."""
    acct = account_of(book, query)
    volume = sum((f.notional for f in acct.fills), _ZERO)
    fees = sum((f.fee for f in acct.fills if f.fee_asset == f.quote), _ZERO)
    return {
        "total_volume": float(volume), "total_fees": float(fees),
        "fee_tier": {"pricing_tier": "Advanced 1", "usd_from": "0", "usd_to": "1000",
                     "taker_fee_rate": "0.006", "maker_fee_rate": "0.004", "aop_from": "",
                     "aop_to": ""},
        "margin_rate": None, "goods_and_services_tax": None,
        "advanced_trade_only_volume": float(volume), "advanced_trade_only_fees": float(fees),
        "coinbase_pro_volume": 0, "coinbase_pro_fees": 0, "total_balance": "",
        "has_promo_fee": False,
    }  # fmt: skip
