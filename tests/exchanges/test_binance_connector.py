"""The Binance connector against the Binance sandbox: real ccxt, real signatures, nothing mocked."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from binance_support import BN_IP, BN_READ, BN_TRADE, T0, binance_state
from connector_support import BINANCE, measured_offset
from exchanges_support import control

from keyfolio.config import Settings
from keyfolio.domain.balances import Source, SourceStatus
from keyfolio.domain.history import Trade, Transfer
from keyfolio.errors import InvalidSignatureError, KeyRefusedError, RateLimitedError
from keyfolio.exchanges.history import HistoryContext
from keyfolio.exchanges.pool import ConnectorPool
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues import parse_state

url = BINANCE.url_fixture()


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(home=tmp_path, retries=1)


async def test_every_source_counted_once_and_ldo_kept(url: str, settings: Settings) -> None:
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        connector = BINANCE.pooled(pool, url)
        results = {r.source: r for r in await connector.fetch_balances()}
    assert all(r.status is SourceStatus.OK for r in results.values())
    assert results[Source.TRADING].amounts == {
        "BTC": Decimal("0.5"),
        "USDT": Decimal("1000"),
        "LDO": Decimal("300"),  # a real asset whose code starts with LD
        "ABC": Decimal("50"),
    }  # LDBTC and LDUSDT (the Simple Earn mirrors) are not counted in spot
    assert results[Source.FUNDING].amounts == {"USDT": Decimal("40"), "BNB": Decimal("2")}
    assert results[Source.SAVINGS].amounts == {"BTC": Decimal("0.25"), "USDT": Decimal("500")}
    assert results[Source.LOCKED_EARN].amounts == {"SOL": Decimal("10")}


async def test_a_failing_source_keeps_the_others(url: str, settings: Settings) -> None:
    fault = {"path": "/sapi/v1/simple-earn/locked/position", "mode": "http500", "count": 5}
    await control(url, "faults", fault)
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        connector = BINANCE.pooled(pool, url)
        results = {r.source: r for r in await connector.fetch_balances()}
    assert results[Source.LOCKED_EARN].status is SourceStatus.FAILED
    assert results[Source.TRADING].status is SourceStatus.OK


async def test_key_check_reads_the_flags_and_the_uid(url: str, settings: Settings) -> None:
    async with ConnectorPool(settings) as pool:
        read = await BINANCE.pooled(pool, url).check_key()
        trade = await BINANCE.pooled(pool, url, BN_TRADE, name="t").check_key()
    assert read.permissions == {"enableReading", "enableFixReadOnly"} and read.uid
    assert {"enableWithdrawals", "enableSpotAndMarginTrading"} <= trade.permissions
    assert not read.is_ip_bound


@pytest.mark.parametrize(
    ("key", "error", "hint_words"),
    [
        ({"apiKey": "nobody", "secret": "x"}, KeyRefusedError, ["IP", "Enable Reading"]),
        ({**BN_READ, "secret": "wrong"}, InvalidSignatureError, ["Secret Key"]),
        (BN_IP, KeyRefusedError, ["IP"]),
    ],
    ids=["unknown-key", "wrong-secret", "ip-bound-elsewhere"],
)
async def test_auth_errors_have_their_own_class_and_hint(
    url: str, settings: Settings, key: dict[str, str], error: type[Exception], hint_words: list[str]
) -> None:
    async with ConnectorPool(settings) as pool:
        connector = BINANCE.pooled(pool, url, key)
        with pytest.raises(error) as caught:
            await connector.fetch_balances()
    hint = getattr(caught.value, "hint", "")
    assert all(word in hint for word in hint_words), hint


@pytest.mark.fault("clock_skew", sees="Error: … clock is 120 s ahead of Binance (-1021) … Hint")
async def test_a_clock_error_names_the_measured_offset(url: str, settings: Settings) -> None:
    error = await BINANCE.clock_error(url, BN_READ, settings, 120_000)  # two minutes fast
    assert "-1021" in error.message, error.message
    # two minutes, give or take the round trip
    assert 115 < measured_offset(error.message, "ahead of Binance") < 125


async def test_retry_after_is_honoured_and_a_ban_ends_the_attempt(
    url: str, settings: Settings
) -> None:
    await control(url, "faults", {"path": "/api/v3/account", "mode": "rate_limit"})
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        connector = BINANCE.pooled(pool, url)
        results = {r.source: r for r in await connector.fetch_balances()}
        assert results[Source.TRADING].status is SourceStatus.OK  # waited 1 s, then retried
        assert pool.cooldowns.remaining(connector.host) == 0
    async with run_sandbox(parse_state(binance_state())) as limited:
        async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
            connector = BINANCE.pooled(pool, limited)
            for _ in range(74):  # the markets (20) and 74 ticker lists (80 each): 5940 of 6000
                await connector.fetch_spot_tickers()
            with pytest.raises(RateLimitedError) as caught:
                await connector.fetch_spot_tickers()
            assert caught.value.retry_after is not None and caught.value.retry_after > 30
            assert pool.cooldowns.remaining(connector.host) > 30  # nothing more is sent
        log = await control(limited, "requests")
    assert [entry["status"] for entry in log].count(418) == 0  # never banned


async def test_spot_tickers_in_canonical_pairs(url: str, settings: Settings) -> None:
    async with ConnectorPool(settings) as pool:
        tickers = await BINANCE.pooled(pool, url).fetch_spot_tickers()
    btc = tickers["BTC-USDT"]
    assert (btc.last, btc.open24h, btc.venue) == (Decimal("60000"), Decimal("58000"), "binance")
    assert "ABC-BTC" in tickers


async def test_history_streams_come_from_the_assets(url: str, settings: Settings) -> None:
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        connector = BINANCE.pooled(pool, url)
        context = HistoryContext(assets=frozenset({"BTC", "USDT", "ETH"}))
        streams = {s.key: s for s in await connector.history_streams(context)}
        assert set(streams) == {"deposits", "withdrawals", "trades:BTCUSDT", "trades:ETHUSDT"}
        records: dict[str, list[Any]] = {}
        for key, stream in streams.items():
            cursor: str | None = None
            records[key] = []
            for _ in range(100):
                page = await stream.next_page(cursor)
                records[key] += page.records
                cursor = page.cursor
                if page.done:
                    break
    trades = records["trades:BTCUSDT"]
    assert [t.trade_id for t in trades] == ["BTCUSDT:1", "BTCUSDT:2", "BTCUSDT:3"]
    first = trades[0]
    assert isinstance(first, Trade)
    assert (first.amount, first.price, first.fee, first.fee_asset) == (
        Decimal("0.5"), Decimal("40000"), Decimal("0.0005"), "BTC",
    )  # fmt: skip
    deposits = records["deposits"]
    assert {d.transfer_id for d in deposits} == {"d1", "d2"}  # d1 is 400 days back: walked
    [withdrawal] = records["withdrawals"]
    assert isinstance(withdrawal, Transfer) and withdrawal.fee == Decimal("1")
    assert int(withdrawal.at.timestamp() * 1000) == T0 + 20 * 86_400_000
