"""Kraken's private account answers: balances, the key's own description, the two probes that
change nothing (``AddOrder`` with ``validate=true``, ``WithdrawMethods``) and the WebSocket token.

``Balance`` and ``BalanceEx`` list every row of the account under Kraken's codes: a suffixed row
(``SOL.F``, ``ETH2.S``) is a separate sub-balance, never part of its base row.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from decimal import Decimal, InvalidOperation

from keyfolio.sandbox.core.book import Account, Key, now_ms
from keyfolio.sandbox.venues.kraken.auth import KrakenFailure, permissions_of
from keyfolio.sandbox.venues.kraken.book import KrakenBook, asset_row
from keyfolio.sandbox.venues.kraken.market import Params, Result, fixed

__all__ = [
    "add_order",
    "api_key_info",
    "balance",
    "balance_ex",
    "websockets_token",
    "withdraw_methods",
]

_DAY_MS = 86_400_000


def _account(book: KrakenBook, key: Key | None) -> Account:
    assert key is not None  # private routes only
    return book.account(key.account)


def _rows(book: KrakenBook, key: Key | None) -> dict[str, Decimal]:
    return dict(sorted(_account(book, key).source("balances").items()))


def balance(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``Balance``: ``{code: "amount"}`` per row, net of pending withdrawals (none here)."""
    return {code: fixed(v, asset_row(code).decimals) for code, v in _rows(book, key).items()}


def balance_ex(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``BalanceEx``: ``{code: {"balance", "hold_trade"}}`` (no credit line in the sandbox)."""
    return {
        code: {
            "balance": fixed(amount, asset_row(code).decimals),
            "hold_trade": fixed(Decimal(0), asset_row(code).decimals),
        }
        for code, amount in _rows(book, key).items()
    }


def _iban(account: str) -> str:
    """The account's Kraken IBAN (its public account id), stable per account name."""
    text = base64.b32encode(hashlib.sha256(account.encode()).digest()).decode()
    digits = str(int(hashlib.sha256(account.encode()).hexdigest()[:4], 16) % 90 + 10)
    return f"AA{digits} {text[0:4]} {text[4:8]} {text[8:12]}"


def api_key_info(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``GetApiKeyInfo`` (no permission needed): name, permissions, IP allowlist, nonce."""
    assert key is not None
    state = book.key_state(key.api_key)
    allowlist = [part.strip() for part in key.ip.split(",") if part.strip()]
    return {
        "apiKeyName": key.label or "api-key",
        "apiKey": key.api_key,
        "nonce": str(state.nonce),
        "nonceWindow": 0,
        "permissions": permissions_of(key),
        "iban": _iban(key.account),
        "validUntil": "0",
        "queryFrom": "0",
        "queryTo": "0",
        "createdTime": str((book.start_ms - 90 * _DAY_MS) // 1000),
        "modifiedTime": str((book.start_ms - 30 * _DAY_MS) // 1000),
        "ipAllowlist": allowlist,
        "lastUsed": str(state.last_used_ms // 1000),
    }


def _decimal(params: Params, name: str) -> Decimal:
    try:
        value = Decimal(params.get(name, ""))
    except InvalidOperation:
        raise KrakenFailure(f"EGeneral:Invalid arguments:{name}") from None
    if not value.is_finite() or value <= 0:
        raise KrakenFailure(f"EGeneral:Invalid arguments:{name}")
    return value


def add_order(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``AddOrder``: with ``validate=true`` the order is checked and described, never submitted
    (no ``txid``). The sandbox places no orders: without ``validate`` it answers
    ``EGeneral:Invalid arguments:validate``."""
    pair = book.pair(params.get("pair", ""))
    if pair is None:
        raise KrakenFailure("EQuery:Unknown asset pair")
    side, kind = params.get("type", ""), params.get("ordertype", "")
    if side not in ("buy", "sell"):
        raise KrakenFailure("EGeneral:Invalid arguments:type")
    if kind not in ("market", "limit"):
        raise KrakenFailure("EGeneral:Invalid arguments:ordertype")
    volume = _decimal(params, "volume")
    if volume < Decimal("0.00005"):
        raise KrakenFailure("EOrder:Order minimum not met")
    text = f"{side} {fixed(volume, 8)} {pair.altname} @ {kind}"
    if kind == "limit":
        text += f" {fixed(_decimal(params, 'price'), 1)}"
    if params.get("validate", "").lower() != "true":
        raise KrakenFailure("EGeneral:Invalid arguments:validate")
    return {"descr": {"order": text}}


def withdraw_methods(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``WithdrawMethods`` (Query + Withdraw Funds): a read-only list of methods per asset."""
    wanted = params.get("asset")
    rows = []
    for asset_id, row in book.asset_rows().items():
        if wanted and wanted not in (asset_id, row.altname):
            continue
        rows.append(
            {"asset": asset_id, "method": row.altname, "network": row.altname,
             "minimum": fixed(Decimal("0.0004"), 4)}
        )  # fmt: skip
    return rows


def websockets_token(book: KrakenBook, key: Key | None, params: Params) -> Result:
    """``GetWebSocketsToken``: a token for the private WebSocket, to use within 15 minutes."""
    assert key is not None
    token = secrets.token_urlsafe(32)
    book.tokens[token] = key.api_key
    book.key_state(key.api_key).last_used_ms = now_ms()
    return {"token": token, "expires": 900}
