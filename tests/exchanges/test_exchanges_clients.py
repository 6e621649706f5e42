"""The pool's ccxt instances: constructed once per class and configuration, copied per account,
and no account's state is seen by another."""

from __future__ import annotations

import asyncio
import copy
from decimal import Decimal
from typing import Any

from exchanges_support import ALICE_KEY, BASE_STATE, alice_credentials, sandbox

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.balances import Source
from keyfolio.exchanges.clients import READ_ONLY
from keyfolio.exchanges.pool import ConnectorPool

BOB_KEY = {**ALICE_KEY, "apiKey": "bob-read-key", "secret": "bob-secret-9876", "account": "bob"}


def _two_accounts() -> dict[str, Any]:
    state = copy.deepcopy(BASE_STATE)
    state["keys"].append(BOB_KEY)
    state["accounts"]["bob"] = {
        **copy.deepcopy(state["accounts"]["alice"]),
        "uid": "99887766",
        "trading": {"BTC": "0.25", "USDT": "7"},
    }
    return state


def _bob() -> Credentials:
    fields = {"apiKey": BOB_KEY["apiKey"], "secret": BOB_KEY["secret"]}
    return Credentials(fields={**fields, "password": BOB_KEY["passphrase"]})


async def test_one_construction_for_every_account_of_a_venue(settings: Settings) -> None:
    async with sandbox(_two_accounts()) as url, ConnectorPool(settings) as pool:
        alice = pool.connector(
            AccountSpec(exchange="okx", name="alice", api_url=url), alice_credentials()
        )
        bob = pool.connector(AccountSpec(exchange="okx", name="bob", api_url=url), _bob())
        public = pool.public_connector(AccountSpec(exchange="okx", name="alice", api_url=url))
        found = await asyncio.gather(alice.fetch_balances(), bob.fetch_balances(), public.ping())
        assert pool.clients.constructed == 1  # three ccxt instances, one constructed by ccxt

    trading = {
        name: next(r for r in results if r.source is Source.TRADING)
        for name, results in zip(("alice", "bob"), found[:2], strict=True)
    }
    assert trading["alice"].amounts["BTC"] == Decimal("0.5")
    assert dict(trading["bob"].amounts) == {"BTC": Decimal("0.25"), "USDT": Decimal("7")}


async def test_copies_share_only_the_static_description(settings: Settings) -> None:
    async with ConnectorPool(settings) as pool:
        specs = [AccountSpec(exchange="okx", name=n, api_url="http://127.0.0.1:9") for n in "ab"]
        a = pool.connector(specs[0], alice_credentials())._client()  # type: ignore[attr-defined]
        b = pool.connector(specs[1], _bob())._client()  # type: ignore[attr-defined]
        assert (a.apiKey, b.apiKey) == (ALICE_KEY["apiKey"], BOB_KEY["apiKey"])
        assert a.session is b.session is pool._session
        assert a.throttler is not b.throttler and a.origin != b.origin
        for name, value in vars(a).items():
            if isinstance(value, dict | list) and name not in READ_ONLY:
                assert value is not getattr(b, name), name
        a.options["keyfolio-probe"] = 1
        a.urls["api"]["rest"] = "http://elsewhere.invalid"
        assert "keyfolio-probe" not in b.options and b.urls["api"]["rest"] == "http://127.0.0.1:9"
