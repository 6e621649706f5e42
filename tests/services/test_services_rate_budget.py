"""Shared rate budgets on a real Redis: every worker behind one egress IP spends one budget per
venue limit, weighted as the venue counts, and a connector pool spends it on every request it
sends that a per-IP limit covers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hosted_support import REDIS_URL, fresh_namespace

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.exchanges.venue import IpLimit
from keyfolio.services.context import App
from keyfolio.services.rate_budget import DEFAULT_LIMIT, SharedRateBudget
from keyfolio.services.sync import sync_accounts

needs_redis = pytest.mark.skipif(
    not REDIS_URL,
    reason="set KEYFOLIO_TEST_REDIS_URL to run the rate budget tests "
    "(scripts/redis_test_server.sh)",
)
NOWHERE = "redis://127.0.0.1:1/0"  # the budget connects on first use only


@pytest.fixture
def hosted_settings(tmp_path: Path) -> Iterator[Settings]:
    for namespace in fresh_namespace():
        yield Settings(home=tmp_path / "w", broker_url=REDIS_URL, broker_namespace=namespace)


def test_a_request_spends_its_venues_per_ip_limit_with_its_weight(tmp_path: Path) -> None:
    budget = SharedRateBudget(Settings(home=tmp_path, broker_url=NOWHERE))
    try:
        account = budget.spend(venue="binance", path="/api/v3/account")
        tickers = budget.spend(venue="binance", path="/api/v3/ticker/24hr")
        earn = budget.spend(venue="binance", path="/sapi/v1/simple-earn/flexible/position")
        assert account is not None and tickers is not None and earn is not None
        assert (account.bucket, account.weight, tickers.bucket, tickers.weight) == (
            "api", 20, "api", 80,
        )  # fmt: skip
        assert (earn.bucket, earn.weight) == ("sapi /sapi/v1/simple-earn/flexible/position", 150)
        # Counted per account by Binance, per key by OKX: no shared budget.
        assert budget.spend(venue="binance", path="/sapi/v1/capital/withdraw/history") is None
        assert budget.spend(venue="okx", path="/api/v5/account/balance") is None
        okx = budget.spend(venue="okx", path="/api/v5/market/tickers")
        assert okx is not None and okx.bucket == "public /api/v5/market/tickers"
        other = budget.spend(venue=None, path="/anything")
        assert other is not None and other.limit == DEFAULT_LIMIT
        # 0.8 of the limit, over the window and a second of slack; never below one request.
        assert str(budget.item(account.limit)) == "4800 per 61 second"
        assert str(budget.item(okx.limit)) == "16 per 3 second"
        kraken = budget.spend(venue="kraken", path="/0/public/Ticker")
        assert kraken is not None and str(budget.item(kraken.limit)) == "1 per 2 second"
    finally:
        budget.close()


def test_the_share_setting_lowers_every_budget(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, broker_url=NOWHERE, rate_budget_share=0.25)
    budget = SharedRateBudget(settings)
    try:
        okx = budget.spend(venue="okx", path="/api/v5/market/tickers")
        assert okx is not None and str(budget.item(okx.limit)) == "5 per 3 second"
    finally:
        budget.close()


@needs_redis
async def test_workers_behind_one_ip_share_one_budget(hosted_settings: Settings) -> None:
    table = {"v": (IpLimit("all", ("/",), 3, 60.0),)}
    share = replace(hosted_settings, rate_budget_share=1.0)
    first = SharedRateBudget(share, venues=table)
    second = SharedRateBudget(share, venues=table)
    elsewhere = SharedRateBudget(replace(share, egress_ip="198.51.100.7"), venues=table)
    try:
        for budget in (first, second, first):
            await budget.acquire(venue="v", host="127.0.0.1:80", path="/x")
        spend = first.spend(venue="v", path="/x")
        assert spend is not None
        item = first.item(spend.limit)
        mine = first.identifiers(venue="v", host="127.0.0.1:80", spend=spend)
        # Spent for both workers of this IP; another IP and another host have their own.
        assert not first._limiter.test(item, *mine)
        assert not second._limiter.test(item, *mine)
        assert elsewhere._limiter.test(item, "198.51.100.7", *mine[1:])
        assert first._limiter.test(item, "default", "v", "localhost:80", "all")
    finally:
        for budget in (first, second, elsewhere):
            budget.close()


def _fields(venue_id: str, key: dict[str, str]) -> dict[str, str]:
    fields = {"apiKey": key["apiKey"], "secret": key["secret"]}
    if "passphrase" in key:
        fields["password"] = key["passphrase"]
    return fields


@needs_redis
@pytest.mark.parametrize("venue_id", ["okx", "binance", "bybit", "coinbase"])
async def test_a_sync_spends_in_the_budget_what_the_venue_counts_per_ip(
    tmp_path: Path, hosted_settings: Settings, venue_id: str
) -> None:
    """The budgets' tables (keyfolio.exchanges) and the sandbox's (keyfolio.sandbox) are written
    apart from the venues' documentation; a sync spends the same weight in both."""
    from cli_support import control

    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues import venue

    played = venue(venue_id)
    budget = SharedRateBudget(hosted_settings)
    with SandboxThread(played.demo_state()) as sandbox:
        app = App(settings=Settings(home=tmp_path / "home", retries=1), password=lambda **_: "pw")
        app.rate_budget = budget
        with app.db().session() as store:
            store.add_account(spec=AccountSpec(exchange=venue_id, name="a", api_url=sandbox.url))
        app.vault(create=True).set("a", Credentials(fields=_fields(venue_id, played.demo_key())))
        report = await sync_accounts(app)
        assert [o.status for o in report.outcomes] == ["ok"]
        log: list[dict[str, Any]] = control(sandbox.url, "/__sandbox__/requests")
        limits = control(sandbox.url, "/__sandbox__/limits")
        host = sandbox.url.removeprefix("http://")
        app.close()
    try:
        spent: Counter[str] = Counter()
        spends = {}
        for entry in log:
            spend = budget.spend(venue=venue_id, path=entry["path"].split("?")[0])
            if spend is not None:
                spent[spend.bucket] += spend.weight
                spends[spend.bucket] = spend
        counted, per_ip = 0, {"ban", "ip block"}  # with Binance's and Bybit's bans of an IP
        for window in limits["windows"]:
            if window["who"].startswith("ip:"):
                counted += window["total"]
                per_ip.add(window["what"])
        # No per-IP limit refused anything (per-key ones are the connector's to pace), and
        # the sync spent in its budgets the weight the venue counted.
        assert spent and not per_ip & set(limits["refused_by_limit"]), limits
        assert sum(spent.values()) == counted
        for bucket, spend in spends.items():  # one hit of its weight per request sent
            item = budget.item(spend.limit)
            if item.get_expiry() < 60:
                continue  # a short window has slid during the sync
            ids = budget.identifiers(venue=venue_id, host=host, spend=spend)
            stats = budget._limiter.get_window_stats(item, *ids)
            assert item.amount - stats.remaining == spent[bucket], bucket
    finally:
        budget.close()
