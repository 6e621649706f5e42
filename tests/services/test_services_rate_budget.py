"""Shared rate budgets on a real Redis: every worker behind one egress IP spends one budget
per venue host, and a connector pool spends it on every request it sends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hosted_support import REDIS_URL, fresh_namespace

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.services.context import App
from keyfolio.services.rate_budget import SharedRateBudget
from keyfolio.services.sync import sync_accounts

needs_redis = pytest.mark.skipif(
    not REDIS_URL,
    reason="set KEYFOLIO_TEST_REDIS_URL to run the rate budget tests "
    "(scripts/redis_test_server.sh)",
)
KEY = {"apiKey": "budget-key-1a2b", "secret": "budget-secret-3c4d", "passphrase": "budget-pp-5e"}


@pytest.fixture
def hosted_settings(tmp_path: Path) -> Iterator[Settings]:
    for namespace in fresh_namespace():
        yield Settings(home=tmp_path / "w", broker_url=REDIS_URL, broker_namespace=namespace)


def test_a_host_gets_its_venues_budget() -> None:
    budget = SharedRateBudget.__new__(SharedRateBudget)  # item_for reads only the tables
    from limits import parse

    budget._items = {"okx.com": parse("10/second")}
    budget._default = parse("3/minute")
    assert budget.item_for("www.okx.com") == parse("10/second")
    assert budget.item_for("okx.com") == parse("10/second")
    assert budget.item_for("notokx.com") == parse("3/minute")


@needs_redis
async def test_workers_behind_one_ip_share_one_budget(hosted_settings: Settings) -> None:
    first = SharedRateBudget(hosted_settings, budgets={}, default="3/minute")
    second = SharedRateBudget(hosted_settings, budgets={}, default="3/minute")
    elsewhere = SharedRateBudget(
        hosted_settings.model_copy(update={"egress_ip": "198.51.100.7"}),
        budgets={},
        default="3/minute",
    )
    try:
        await first.acquire("127.0.0.1")
        await second.acquire("127.0.0.1")
        await first.acquire("127.0.0.1")
        item = first.item_for("127.0.0.1")
        # Spent for both workers of this IP; another IP and another host have their own.
        assert not first._limiter.test(item, "default", "127.0.0.1")
        assert not second._limiter.test(item, "default", "127.0.0.1")
        assert elsewhere._limiter.test(item, "198.51.100.7", "127.0.0.1")
        assert first._limiter.test(item, "default", "localhost")
    finally:
        for budget in (first, second, elsewhere):
            budget.close()


@needs_redis
async def test_a_sync_spends_the_budget_on_every_request(
    tmp_path: Path, hosted_settings: Settings
) -> None:
    from cli_support import control

    from keyfolio.sandbox.core.server import SandboxThread
    from keyfolio.sandbox.venues import parse_state

    state: dict[str, Any] = {
        "tickers": {"BTC-USDT": {"last": "60000"}},
        "keys": [{**KEY, "perm": "read_only", "account": "alice"}],
        "accounts": {"alice": {"trading": {"BTC": "1"}, "funding": {"USDT": "5"}}},
    }
    budget = SharedRateBudget(hosted_settings, budgets={}, default="1000/hour")
    with SandboxThread(parse_state(state), rate_limit=False) as sandbox:
        app = App(settings=Settings(home=tmp_path / "home", retries=1), password=lambda **_: "pw")
        app.rate_budget = budget
        with app.db().session() as store:
            store.add_account(spec=AccountSpec(exchange="okx", name="a", api_url=sandbox.url))
        fields = {"apiKey": KEY["apiKey"], "secret": KEY["secret"], "password": KEY["passphrase"]}
        app.vault(create=True).set("a", Credentials(fields=fields))
        control(sandbox.url, "/__sandbox__/reset-log", {})
        report = await sync_accounts(app, history=False)
        assert [o.status for o in report.outcomes] == ["ok"]
        sent = len(control(sandbox.url, "/__sandbox__/requests"))
        app.close()
    try:
        item = budget.item_for("127.0.0.1")
        stats = budget._limiter.get_window_stats(item, "default", "127.0.0.1")
        assert sent > 0 and stats.remaining == 1000 - sent  # one hit per request sent
    finally:
        budget.close()
