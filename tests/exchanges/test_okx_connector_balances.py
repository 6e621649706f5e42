"""OKX connector against the real sandbox: sources, isolation, retries, markets, request counts."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from exchanges_support import (
    alice_credentials,
    control,
    make_state,
    requests_log,
    sandbox,
    spec_for,
)

from keyfolio.config import Settings
from keyfolio.domain.balances import Source, SourceResult, SourceStatus
from keyfolio.exchanges.pool import ConnectorPool

DELAY = 0.01
EXPECTED = {
    Source.TRADING: {"BTC": Decimal("0.5"), "USDT": Decimal("1000.123456789")},
    Source.FUNDING: {"ETH": Decimal("2"), "USDT": Decimal("50"), "BETH": Decimal("1.5")},
    Source.SAVINGS: {"USDT": Decimal("500")},
    Source.ONCHAIN_EARN: {"SOL": Decimal("12.5"), "DOT": Decimal("0.000000001")},
}


def by_source(results: list[SourceResult]) -> dict[Source, SourceResult]:
    return {result.source: result for result in results}


async def fetch(settings: Settings, url: str) -> dict[Source, SourceResult]:
    async with ConnectorPool(settings, retry_base_delay=DELAY) as pool:
        connector = pool.connector(spec_for(url), alice_credentials())
        return by_source(await connector.fetch_balances())


def signed(log: list[dict[str, Any]], path: str | None = None) -> list[dict[str, Any]]:
    return [r for r in log if r["key"] is not None and (path is None or r["path"].startswith(path))]


async def test_four_sources_parsed_exactly(settings: Settings, alice_url: str) -> None:
    results = await fetch(settings, alice_url)
    assert list(results) == [Source.TRADING, Source.FUNDING, Source.SAVINGS, Source.ONCHAIN_EARN]
    for source, expected in EXPECTED.items():
        assert results[source].status is SourceStatus.OK, results[source]
        assert dict(results[source].amounts) == expected
        assert all(type(v) is Decimal for v in results[source].amounts.values())


async def test_beth_is_counted_once(settings: Settings, alice_url: str) -> None:
    # The account has 1.5 BETH in funding and eth_staking "1.5" (which already includes it).
    results = await fetch(settings, alice_url)
    beth = [r.amounts["BETH"] for r in results.values() if "BETH" in r.amounts]
    assert beth == [Decimal("1.5")]
    log = await requests_log(alice_url)
    assert not [r for r in log if "staking-defi/eth" in r["path"]]


async def test_one_failing_source_is_isolated(settings: Settings, alice_url: str) -> None:
    await control(
        alice_url, "faults", {"path": "/api/v5/asset/balances", "mode": "http500", "count": 100}
    )
    results = await fetch(settings, alice_url)
    funding = results[Source.FUNDING]
    assert funding.status is SourceStatus.FAILED
    assert funding.error_code == "exchange_unavailable"
    assert funding.error and "Gave up after 4 attempts" in funding.error
    assert funding.hint and "temporary" in funding.hint
    assert dict(funding.amounts) == {}
    for source in (Source.TRADING, Source.SAVINGS, Source.ONCHAIN_EARN):
        assert results[source].status is SourceStatus.OK
        assert dict(results[source].amounts) == EXPECTED[source]
    log = await requests_log(alice_url)
    assert len(signed(log, "/api/v5/asset/balances")) == 4  # 1 + settings.retries


@pytest.mark.parametrize("mode", ["http500", "code50001", "code50011", "malformed"])
async def test_temporary_failure_is_retried(settings: Settings, alice_url: str, mode: str) -> None:
    await control(alice_url, "faults", {"path": "/api/v5/asset/balances", "mode": mode, "count": 1})
    results = await fetch(settings, alice_url)
    assert all(r.status is SourceStatus.OK for r in results.values())
    assert dict(results[Source.FUNDING].amounts) == EXPECTED[Source.FUNDING]
    log = await requests_log(alice_url)
    funding = [r for r in log if r["path"].startswith("/api/v5/asset/balances")]
    assert len(funding) == 2


async def test_rate_limit_50011_retried_several_times(settings: Settings, alice_url: str) -> None:
    path = "/api/v5/account/balance"
    await control(alice_url, "faults", {"path": path, "mode": "code50011", "count": 2})
    results = await fetch(settings, alice_url)
    assert dict(results[Source.TRADING].amounts) == EXPECTED[Source.TRADING]
    log = await requests_log(alice_url)
    codes = [r["code"] for r in log if r["path"].startswith(path)]
    assert codes == ["50011", "50011", "0"]


async def test_timeout_is_retried(
    settings_factory: Callable[..., Settings], alice_url: str
) -> None:
    # the held request outlasts the client's timeout; the others have 1 s (with retries)
    settings = settings_factory(request_timeout_seconds=1.0)
    await control(
        alice_url,
        "faults",
        {"path": "/api/v5/finance/savings/balance", "mode": "timeout", "count": 1, "seconds": 600},
    )
    results = await fetch(settings, alice_url)
    assert results[Source.SAVINGS].status is SourceStatus.OK
    assert dict(results[Source.SAVINGS].amounts) == EXPECTED[Source.SAVINGS]


async def test_key_without_read_is_not_permitted_per_source(settings: Settings) -> None:
    async with sandbox(make_state(perm="trade")) as url:
        results = await fetch(settings, url)
    assert {r.status for r in results.values()} == {SourceStatus.NOT_PERMITTED}
    assert all(r.error_code == "permission_denied" for r in results.values())
    assert all(r.hint and "Read permission" in r.hint for r in results.values())


async def test_request_count_per_refresh(settings: Settings, alice_url: str) -> None:
    async with ConnectorPool(settings, retry_base_delay=DELAY) as pool:
        connector = pool.connector(spec_for(alice_url), alice_credentials())
        await control(alice_url, "reset-log", {})
        await connector.fetch_balances()
        first = await requests_log(alice_url)
        await control(alice_url, "reset-log", {})
        await connector.fetch_balances()
        second = await requests_log(alice_url)
    assert len(signed(first)) == 4
    unsigned = [r["path"] for r in first if r["key"] is None]
    assert unsigned == ["/api/v5/public/instruments?instType=SPOT"]
    assert len(second) == 4 and len(signed(second)) == 4
    assert {r["path"].split("?")[0] for r in second} == {
        "/api/v5/account/balance",
        "/api/v5/asset/balances",
        "/api/v5/finance/savings/balance",
        "/api/v5/finance/staking-defi/orders-active",
    }
    assert all(r["code"] == "0" for r in first + second)


async def test_markets_cache_second_connector_makes_no_instruments_request(
    settings: Settings, alice_url: str
) -> None:
    await fetch(settings, alice_url)  # first pool: loads and caches the markets
    host = alice_url.split("://", 1)[1].replace(":", "_")
    assert (settings.cache_dir / f"markets-okx-{host}.json").is_file()
    await control(alice_url, "reset-log", {})
    await fetch(settings, alice_url)  # a new pool: markets come from the disk cache
    log = await requests_log(alice_url)
    assert not [r for r in log if "instruments" in r["path"]]
    assert len(log) == 4


async def test_markets_loaded_once_for_many_accounts_in_one_pool(
    settings: Settings, alice_url: str
) -> None:
    async with ConnectorPool(settings, retry_base_delay=DELAY) as pool:
        connectors = [pool.connector(spec_for(alice_url), alice_credentials()) for _ in range(3)]
        for connector in connectors:
            await connector.fetch_balances()
    log = await requests_log(alice_url)
    assert len([r for r in log if "instruments" in r["path"]]) == 1


async def test_an_amount_outside_the_bounds_fails_only_its_source(settings: Settings) -> None:
    state = make_state()
    state["accounts"]["alice"]["funding"]["USDT"] = "12345678901234567890"
    state["accounts"]["alice"]["savings"]["USDT"] = "0.0000000000000000001"
    async with sandbox(state) as url:
        results = await fetch(settings, url)
    for source, fragment in (
        (Source.FUNDING, "USDT '12345678901234567890' is larger than 10^18"),
        (Source.SAVINGS, "USDT '0.0000000000000000001' has more than 18 decimal places"),
    ):
        result = results[source]
        assert result.status is SourceStatus.FAILED and result.error_code == "bad_response"
        assert result.error and fragment in result.error
        assert result.hint and "docs/money.md" in result.hint
        assert dict(result.amounts) == {}
    for source in (Source.TRADING, Source.ONCHAIN_EARN):
        assert results[source].status is SourceStatus.OK
        assert dict(results[source].amounts) == EXPECTED[source]
