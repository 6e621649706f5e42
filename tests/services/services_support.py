"""Helpers for the services tests: a small OKX sandbox, an App with accounts linked (or only
added), an OKX key's vault fields, and what an App stored (balances, alice's snapshots)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.balances import Source
from keyfolio.services.context import App


def one_btc_sandbox(key: dict[str, str]) -> Iterator[str]:
    """An OKX sandbox in a thread (rate limits off) where alice's read-only ``key`` sees 1 BTC
    in trading and 5 USDT in funding, BTC at 60000; its URL while the generator runs."""
    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues import parse_state

    state: dict[str, Any] = {
        "tickers": {"BTC-USDT": {"last": "60000"}},
        "keys": [{**key, "perm": "read_only", "account": "alice"}],
        "accounts": {"alice": {"trading": {"BTC": "1"}, "funding": {"USDT": "5"}}},
    }
    with SandboxThread(parse_state(state), rate_limit=False) as server:
        yield server.url


def okx_fields(key: dict[str, str]) -> dict[str, str]:
    """An OKX key of a sandbox state as the vault keeps it (its passphrase is ``password``)."""
    return {"apiKey": key["apiKey"], "secret": key["secret"], "password": key["passphrase"]}


def linked_app(
    settings: Settings,
    password: str,
    exchange: str,
    url: str,
    fields: dict[str, str],
    names: Iterable[str] = ("alice",),
) -> App:
    """An App whose vault opens with ``password``, with each account of ``names`` on
    ``exchange`` at ``url`` linked with the same key ``fields`` (its vault made on the way)."""
    app = App(settings=settings, password=lambda **_: password)
    for name in names:
        with app.db().session() as store:
            store.add_account(spec=AccountSpec(exchange=exchange, name=name, api_url=url))
        app.vault(create=True).set(name, Credentials(fields=fields))
    return app


def three_accounts_app(home: Path) -> App:
    """An App without a vault: OKX accounts a and b in the main portfolio, c in "other"."""
    app = App(settings=Settings(home=home), password=lambda **_: "unused")
    with app.db().session() as store:
        store.add_portfolio(name="other")
        store.add_account(spec=AccountSpec(exchange="okx", name="a"))
        store.add_account(spec=AccountSpec(exchange="okx", name="b"))
        store.add_account(spec=AccountSpec(exchange="okx", name="c", portfolio="other"))
    return app


def stored(app: App) -> dict[tuple[Source, str], tuple[Decimal, bool]]:
    """Every stored balance: (source, asset) -> (amount, stale)."""
    with app.db().session(read_only=True) as store:
        return {(b.source, b.asset): (b.amount, b.stale) for b in store.balances()}


def snapshot_amounts(app: App) -> list[Decimal]:
    """The amounts of alice's snapshots, oldest first."""
    with app.db().session(read_only=True) as store:
        return [s.amount for s in store.snapshots.snapshots(account="alice")]
