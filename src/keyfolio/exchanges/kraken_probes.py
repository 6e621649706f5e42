"""What a Kraken key may do: ``GetApiKeyInfo``, or requests that change nothing where it is absent.

``GetApiKeyInfo`` needs no permission and lists the key's permissions in Kraken's words. A word
keyfolio does not know is refused, unless its name starts with ``query-`` (Kraken's read words)
or names the WebSocket interface: that one is taken as read-only and said so in a warning.

Where Kraken answers ``EGeneral:Unknown method`` (``GetApiKeyInfo`` is recent), the key is
probed with three requests that cannot trade or move funds:

* ``BalanceEx`` (Query Funds): reads balances.
* ``AddOrder`` with ``validate=true``: Kraken checks the order and describes it without
  submitting it. ``EGeneral:Permission denied`` proves the key cannot trade; a description or
  an order-validation error (``EOrder:...``, ``EGeneral:Invalid arguments...``) proves it can.
  The order is a limit buy of the pair's minimum volume at a price of 1, which could not fill
  even if Kraken ever dropped ``validate``; a ``txid`` in the answer (a submitted order) is
  cancelled at once.
* ``WithdrawMethods`` (Query + Withdraw Funds): a read-only list of withdrawal methods.
  ``EGeneral:Permission denied`` proves the key cannot withdraw; a list proves it can. keyfolio
  never probes with ``Withdraw``.

Any other answer (Kraken unavailable, a response keyfolio cannot read) proves nothing: the key
is not refused for it, but the link shows a warning naming the request and the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from keyfolio.domain.balances import KeyInfo, PermissionWords
from keyfolio.errors import ExchangeAuthError, ExchangeError, PermissionDeniedError

if TYPE_CHECKING:
    from keyfolio.exchanges.kraken import KrakenConnector

__all__ = ["key_info", "probe_key"]

logger = logging.getLogger(__name__)

_PROVES_TRADE = ("EOrder:", "EGeneral:Invalid arguments")


def _words() -> PermissionWords:
    from keyfolio.exchanges.kraken import PERMISSION_WORDS

    return PERMISSION_WORDS


def _reads(word: str) -> bool:
    """Whether an unknown ``GetApiKeyInfo`` word is taken as read-only: Kraken's read words are
    ``query-*``, and the WebSocket interface (its word is not documented) grants nothing the
    key's other permissions do not (docs/exchanges/kraken.md, "Unverified choices")."""
    return word.startswith("query-") or "websocket" in word.lower()


def key_info(result: Any) -> KeyInfo:
    """The :class:`KeyInfo` of a ``GetApiKeyInfo`` result."""
    from keyfolio.errors import ExchangeResponseError

    if not isinstance(result, Mapping) or not isinstance(result.get("permissions"), list):
        raise ExchangeResponseError("Kraken API key info: no list of permissions.")
    permissions = frozenset(str(word) for word in result["permissions"])
    words = _words()
    guessed = sorted(w for w in permissions if _reads(w) and w not in words.labels)
    warnings = [
        f"Kraken reported the permission '{word}', which keyfolio does not know; it is taken "
        + (
            "as read-only because Kraken's read permissions are named query-*."
            if word.startswith("query-")
            else "as the WebSocket interface, which only opens Kraken's WebSocket API to what "
            "the key's other permissions allow."
        )
        for word in guessed
    ]
    if str(result.get("queryFrom") or "0") != "0" or str(result.get("queryTo") or "0") != "0":
        warnings.append(
            "this key may only query records within a time range (Query start/end date in "
            "Kraken's key settings): history outside it is not imported."
        )
    allowlist = result.get("ipAllowlist")
    return KeyInfo(
        permissions=permissions,
        ip_whitelist=tuple(str(ip) for ip in allowlist) if isinstance(allowlist, list) else (),
        uid=str(result.get("iban") or ""),
        label=str(result.get("apiKeyName") or ""),
        verified=True,
        words=PermissionWords(read=words.read | frozenset(guessed), labels=words.labels),
        warnings=tuple(warnings),
    )


def _probe_pair(connector: KrakenConnector) -> tuple[str, str]:
    """(pair, minimum volume) for the order probe: XBTUSD where listed."""
    markets = list((connector._client().markets or {}).values())
    markets.sort(key=lambda m: (m.get("id") != "XXBTZUSD", str(m.get("id"))))
    for market in markets:
        info = market.get("info") or {}
        altname, minimum = info.get("altname"), info.get("ordermin")
        if isinstance(altname, str):
            return altname, minimum if isinstance(minimum, str) and minimum else "0.0001"
    return "XBTUSD", "0.0001"


async def _probe(
    connector: KrakenConnector, method: str, params: dict[str, str], what: str
) -> tuple[bool | None, Any]:
    """(True: allowed, False: denied, None: unknown, with the answer or the error)."""
    try:
        return True, await connector.call(method, params, what=what)
    except PermissionDeniedError as exc:
        return False, exc
    except ExchangeAuthError:
        raise  # the key itself is bad: no probe can tell more
    except ExchangeError as exc:
        return None, exc


async def _cancel(connector: KrakenConnector, answer: Any) -> None:
    result = answer.get("result") if isinstance(answer, Mapping) else None
    txids = result.get("txid") if isinstance(result, Mapping) else None
    for txid in txids if isinstance(txids, list) else []:
        logger.warning("Kraken submitted the validation order %s: cancelling it", txid)
        await connector.call("privatePostCancelOrder", {"txid": str(txid)}, what="cancel")


async def probe_key(connector: KrakenConnector) -> KeyInfo:
    """The key's permissions proved with requests that change nothing (module docstring)."""
    await connector.load_markets()
    permissions: set[str] = set()
    warnings: list[str] = []
    funds, _ = await _probe(connector, "privatePostBalanceEx", {}, "balances (key probe)")
    if funds:
        permissions.add("query-funds")
    pair, volume = _probe_pair(connector)
    order = {"pair": pair, "type": "buy", "ordertype": "limit", "price": "1", "volume": volume,
             "validate": "true"}  # fmt: skip
    trade, answer = await _probe(connector, "privatePostAddOrder", order, "order check (probe)")
    if trade:
        await _cancel(connector, answer)
    elif trade is None:
        code = answer.exchange_code or ""
        if code.startswith(_PROVES_TRADE):
            trade = True  # Kraken checked the order: the key may place orders
        else:
            warnings.append(
                "Kraken has no GetApiKeyInfo here and could not tell whether this key can "
                f"trade: AddOrder with validate=true answered {code or answer.message}. Check in "
                "Kraken (Settings > API) that Create & Modify Orders is off."
            )
    if trade:
        permissions.add("modify-trades")
    withdraw, answer = await _probe(
        connector, "privatePostWithdrawMethods", {}, "withdrawal methods (key probe)"
    )
    if withdraw:
        permissions.add("withdraw-funds")
    elif withdraw is None:
        warnings.append(
            "Kraken has no GetApiKeyInfo here and could not tell whether this key can withdraw: "
            f"WithdrawMethods answered {answer.exchange_code or answer.message}. Check in "
            "Kraken (Settings > API) that Withdraw Funds is off."
        )
    logger.info("Kraken key probed: %s", ", ".join(sorted(permissions)) or "nothing allowed")
    return KeyInfo(
        permissions=frozenset(permissions), verified=True, words=_words(),
        warnings=tuple(warnings),
    )  # fmt: skip
