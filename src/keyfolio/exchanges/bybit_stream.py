"""Bybit's private WebSocket through ccxt.pro: the ``wallet`` topic, confirmed before it is live.

Bybit sends no snapshot when ``wallet`` is subscribed, and pushes only when the Unified wallet
changes. So the stream is live once Bybit **acknowledges the subscription** (``{"success": true,
"op": "subscribe", "req_id": ...}``), and the wallet is re-read over REST at that moment. ccxt.pro
4.5 drops that acknowledgement (``handle_subscription_status`` returns it unused): the client
class here resolves a future on it, so "live" never comes before the subscription is in place.

Bybit does not document its WebSocket ``auth`` errors. Observed answers: ``Params Error`` (an
``expires`` already past: a slow clock, pybit#300) and ``error:USVC1111`` (ccxt's comment: a
refused key). keyfolio names each with its own class and hint.
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from keyfolio.errors import ClockSkewError, ExchangeError, KeyRefusedError
from keyfolio.exchanges.stream import explain_drop

__all__ = [
    "SUBSCRIBED",
    "client_class",
    "explain_bybit_ws",
    "private_ws_url",
    "push_coins",
    "subscribe_wallet",
]

SUBSCRIBED = "keyfolio:wallet-subscribed"
"""The ccxt message hash resolved when Bybit acknowledges the ``wallet`` subscription."""


def private_ws_url(api_url: str | None) -> str:
    """The private stream of a REST host: ``api.bybit.nl`` -> ``wss://stream.bybit.nl``,
    ``api-testnet.bybit.com`` -> ``wss://stream-testnet.bybit.com``; a sandbox's own host."""
    if not api_url:
        return "wss://stream.bybit.com/v5/private"
    parts = urlsplit(api_url)
    host = parts.netloc
    if parts.scheme == "https" and host.startswith(("api.", "api-")):
        return f"wss://stream{host[3:]}/v5/private"
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{host}/v5/private"


@cache
def client_class() -> Any:
    """ccxt.pro's ``bybit``, resolving :data:`SUBSCRIBED` on the ``wallet`` acknowledgement."""
    import ccxt.pro as ccxtpro

    class ConfirmingBybit(ccxtpro.bybit):  # type: ignore[misc]
        def handle_subscription_status(self, client: Any, message: Any) -> Any:
            if isinstance(message, dict) and message.get("success") is True:
                req_id = str(message.get("req_id"))
                for sub in list(client.subscriptions.values()):
                    if (
                        isinstance(sub, dict)
                        and str(sub.get("id")) == req_id
                        and "wallet" in (sub.get("topics") or [])
                    ):
                        client.resolve(message, SUBSCRIBED)
            return super().handle_subscription_status(client, message)

    return ConfirmingBybit


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a refusal or a drop is reported through the stream's own call


async def subscribe_wallet(exchange: Any, url: str) -> None:
    """``auth`` (ccxt.pro's ``authenticate``), then ``watch_balance``'s ``wallet`` subscription,
    returning once Bybit acknowledges it; a refusal or a drop raises ccxt's error."""
    await exchange.authenticate(url)
    confirmed = exchange.client(url).future(SUBSCRIBED)
    watching = asyncio.ensure_future(exchange.watch_balance())
    watching.add_done_callback(_retrieve)
    done, _ = await asyncio.wait({confirmed, watching}, return_when=asyncio.FIRST_COMPLETED)
    if confirmed not in done:
        watching.result()  # the subscription was refused, or the connection dropped
    confirmed.result()


def push_coins(balance: Any) -> tuple[str, ...]:
    """The coins of a ``wallet`` push (ccxt's ``info``: Bybit's ``data`` list)."""
    info = balance.get("info") if isinstance(balance, dict) else None
    coins: list[str] = []
    for account in info if isinstance(info, list) else []:
        rows = account.get("coin") if isinstance(account, dict) else None
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and isinstance(row.get("coin"), str):
                coins.append(row["coin"])
    return tuple(coins)


def explain_bybit_ws(exc: ExchangeError, *, account: str | None, url: str) -> ExchangeError:
    """The refused ``auth`` answers with their own class and hint; drops as for every venue."""
    host = urlsplit(url).netloc or url
    who = f" for account '{account}'" if account else ""
    if "USVC1111" in exc.message:
        return KeyRefusedError(
            f"Bybit at {host} refused the WebSocket login{who} (error:USVC1111).",
            hint="Bybit gives this one answer for an unknown or deleted key, a wrong API Secret "
            "and an IP address the key is not bound to. Run `keyfolio doctor` to check each; "
            "balances are still read over REST.",
            exchange_code="USVC1111",
        )
    if "Params Error" in exc.message:
        return ClockSkewError(
            f"Bybit at {host} refused the WebSocket login{who}: its expiry time had already "
            "passed on Bybit's clock (Params Error).",
            hint="Synchronise this machine's clock (e.g. `timedatectl set-ntp true`): the login "
            "is valid for 10 s from this machine's time.",
            exchange_code="Params Error",
        )
    return explain_drop(exc, name="Bybit", account=account, url=url, close_hints={})
