"""The Bybit connector against the Bybit sandbox: real ccxt, real signatures, nothing mocked."""

from __future__ import annotations

import asyncio
import importlib
import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from bybit_support import BY_IP, BY_READ, BY_TRADE, OLD_DEPOSIT_MS, bybit_state
from connector_support import BYBIT, measured_offset
from exchanges_support import control

from keyfolio.config import Settings
from keyfolio.domain.balances import Source, SourceStatus
from keyfolio.domain.history import LedgerEntry, Trade, Transfer
from keyfolio.errors import (
    ExchangeError,
    InvalidKeyError,
    InvalidSignatureError,
    IpNotAllowedError,
    RateLimitedError,
)
from keyfolio.exchanges.bybit import VENUE, BybitConnector
from keyfolio.exchanges.errors import translate_error
from keyfolio.exchanges.history import HistoryContext, HistoryStream
from keyfolio.exchanges.pool import ConnectorPool
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues import parse_state

ccxt_errors = importlib.import_module("ccxt.base.errors")


url = BYBIT.url_fixture()


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(home=tmp_path, retries=1)


async def test_every_source_counted_once(url: str, settings: Settings) -> None:
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        results = {r.source: r for r in await BYBIT.pooled(pool, url).fetch_balances()}
    assert all(r.status is SourceStatus.OK for r in results.values())
    assert results[Source.TRADING].amounts == {
        "BTC": Decimal("0.5"), "USDT": Decimal("1000"), "ABC": Decimal("50"),
        "BTC3L": Decimal("10"),  # a leveraged token is its own asset, never BTC
    }  # fmt: skip
    assert results[Source.FUNDING].amounts == {"USDT": Decimal("40"), "BBSOL": Decimal("9.5")}
    assert results[Source.SAVINGS].amounts == {"BTC": Decimal("0.25"), "USDT": Decimal("500")}
    # SOL's OnChain product is in LST mode: the holding is the BBSOL in Funding, counted once
    assert results[Source.ONCHAIN_EARN].amounts == {"ETH": Decimal("1")}


async def test_a_failing_source_keeps_the_others(url: str, settings: Settings) -> None:
    await control(url, "faults", {"path": "/v5/earn/position", "mode": "http500", "count": 10})
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        results = {r.source: r for r in await BYBIT.pooled(pool, url).fetch_balances()}
    failed = results[Source.SAVINGS]
    assert failed.status is SourceStatus.FAILED and "code 10016" in (failed.error or "")
    assert results[Source.ONCHAIN_EARN].status is SourceStatus.FAILED
    assert results[Source.TRADING].status is SourceStatus.OK
    assert results[Source.FUNDING].status is SourceStatus.OK


async def test_key_check_in_bybit_words(url: str, settings: Settings) -> None:
    async with ConnectorPool(settings) as pool:
        read = await BYBIT.pooled(pool, url).check_key()
        trade = await BYBIT.pooled(pool, url, BY_TRADE, name="t").check_key()
    assert read.permissions == {"readOnly"} and read.is_read_only and read.uid
    assert not read.is_ip_bound and read.label == "tracker"
    assert {"readWrite", "Spot:SpotTrade", "Wallet:Withdraw"} <= trade.permissions
    assert not trade.is_read_only


async def test_ip_binding_is_reported(settings: Settings) -> None:
    state = bybit_state()
    state["keys"][2]["ip"] = "127.0.0.1"  # bound to this machine: it works
    async with run_sandbox(parse_state(state), rate_limit=False) as bound:
        async with ConnectorPool(settings) as pool:
            info = await BYBIT.pooled(pool, bound, BY_IP).check_key()
    assert info.ip_whitelist == ("127.0.0.1",) and info.is_ip_bound and info.is_read_only


@pytest.mark.parametrize(
    ("key", "error", "code", "hint_words"),
    [
        ({"apiKey": "nobody", "secret": "x"}, InvalidKeyError, "10003", ["one site", "testnet"]),
        (
            {**BY_READ, "secret": "wrong-secret-7c1d"},
            InvalidSignatureError,
            "10004",
            ["API Secret"],
        ),
        (BY_IP, IpNotAllowedError, "10010", ["public IP address"]),
    ],
    ids=["unknown-key", "wrong-secret", "ip-bound-elsewhere"],
)
async def test_auth_errors_have_their_own_class_and_hint(
    url: str, settings: Settings, key: dict[str, str], error: type[Exception], code: str,
    hint_words: list[str],
) -> None:  # fmt: skip
    async with ConnectorPool(settings) as pool:
        with pytest.raises(error) as caught:
            await BYBIT.pooled(pool, url, key).fetch_balances()
    assert isinstance(caught.value, ExchangeError) and caught.value.exchange_code == code
    assert all(word in caught.value.hint for word in hint_words), caught.value.hint
    assert key["secret"] not in caught.value.message + caught.value.hint


async def test_a_clock_error_names_the_measured_offset(url: str, settings: Settings) -> None:
    error = await BYBIT.clock_error(  # two minutes fast
        url, BY_READ, settings, 120_000, BybitConnector.check_key
    )
    assert "10002" in error.message, error.message
    assert 115 < measured_offset(error.message, "ahead of Bybit") < 125


async def test_10006_waits_for_the_reset_timestamp_then_retries(
    url: str, settings: Settings
) -> None:
    await control(url, "faults", {"path": "/v5/user/query-api", "mode": "rate_limit"})
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        connector = BYBIT.pooled(pool, url)
        info = await connector.check_key()  # waited until the reset, then asked again
        assert info.is_read_only and pool.cooldowns.remaining(connector.host) == 0
    codes = [e["code"] for e in await control(url, "requests") if e["path"].startswith("/v5/u")]
    assert codes == ["10006", "0"]


async def test_an_ip_block_is_never_retried_into(settings: Settings) -> None:
    async with run_sandbox(parse_state(bybit_state())) as limited:
        async with aiohttp.ClientSession() as http:

            async def status() -> int:
                async with http.get(f"{limited}/v5/market/time") as response:
                    return response.status

            while 403 not in await asyncio.gather(*(status() for _ in range(100))):
                pass  # 600 requests in 5 s block this IP (a condition, bounded by the limit)
        async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
            connector = BYBIT.pooled(pool, limited)
            with pytest.raises(RateLimitedError) as caught:
                await connector.fetch_spot_tickers()
            assert caught.value.exchange_code == "HTTP 403" and caught.value.retry_after == 600
            assert pool.cooldowns.remaining(connector.host) > 500  # nothing more is sent
        log = await control(limited, "requests")
    assert [e["status"] for e in log].count(403) >= 1
    assert "10 minutes" in caught.value.hint


async def test_spot_tickers_in_canonical_pairs_with_one_request(
    url: str, settings: Settings
) -> None:
    async with ConnectorPool(settings) as pool:
        tickers = await BYBIT.pooled(pool, url).fetch_spot_tickers()
    btc = tickers["BTC-USDT"]
    assert (btc.last, btc.open24h, btc.venue) == (Decimal("60000"), Decimal("58000"), "bybit")
    assert {"ABC-BTC", "BBSOL-USDT"} <= set(tickers)
    paths = [e["path"].split("?")[0] for e in await control(url, "requests")]
    assert paths.count("/v5/market/tickers") == 1
    assert "/v5/asset/coin/query-info" not in paths  # the markets need no signed coin list


PAGES: list[tuple[str, int]] = []


async def walk(stream: HistoryStream, cursor: str | None = None) -> tuple[list[Any], str]:
    """Every page of a stream from ``cursor``; (key, pages) is appended to PAGES."""
    records: list[Any] = []
    for pages in range(1, 1000):
        page = await stream.next_page(cursor)
        records += page.records
        cursor = page.cursor
        if page.done:
            PAGES.append((stream.key, pages))
            return records, cursor
    raise AssertionError(f"{stream} did not finish")


async def test_history_walks_every_window_bybit_serves(url: str, settings: Settings) -> None:
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        connector = BYBIT.pooled(pool, url)
        streams = {s.key: s for s in await connector.history_streams(HistoryContext())}
        assert set(streams) == {"deposits", "withdrawals", "trades:spot", "ledger:unified"}
        trades, trades_cursor = await walk(streams["trades:spot"])
        deposits, deposits_cursor = await walk(streams["deposits"])
        [withdrawn, internal] = sorted((await walk(streams["withdrawals"]))[0],
                                       key=lambda t: t.transfer_id)  # fmt: skip
        ledger, _ = await walk(streams["ledger:unified"])
        await control(url, "trade", {"account": "alice", "symbol": "BTC-USDT", "side": "sell",
                                     "amount": "0.1"})  # fmt: skip
        later, _ = await walk(streams["trades:spot"], trades_cursor)
        again, _ = await walk(streams["deposits"], deposits_cursor)
        log = await control(url, "requests")
    assert sorted(t.amount for t in trades if isinstance(t, Trade)) == [Decimal("0.5")] * 3 + [
        Decimal("1")
    ]
    btc = next(t for t in trades if isinstance(t, Trade) and t.base == "BTC")
    assert (btc.quote, btc.price, btc.fee, btc.fee_asset) == (
        "USDT", Decimal("40000"), Decimal("0.0005"), "BTC",
    )  # fmt: skip
    by_id = {t.transfer_id: t for t in deposits if isinstance(t, Transfer)}
    assert set(by_id) == {"d1", "d2", "d3", "d4"}  # d3 (2019) is older than the 2-year limit
    assert int(by_id["d3"].at.timestamp() * 1000) == OLD_DEPOSIT_MS
    assert by_id["d4"].status == "pending"
    assert isinstance(withdrawn, Transfer) and withdrawn.fee == Decimal("1")
    assert isinstance(internal, Transfer) and internal.transfer_id == "w2"  # withdrawType=2
    usdt = [e for e in ledger if isinstance(e, LedgerEntry) and e.asset == "USDT"]
    assert {e.change for e in usdt} == {Decimal("-20000"), Decimal("1998")}
    assert all(e.kind == "trade" and e.balance_after is not None for e in usdt)
    assert [t.amount for t in later if isinstance(t, Trade)] == [Decimal("0.1")]  # forward only
    assert "d4" in {t.transfer_id for t in again}  # a pending deposit is read again
    windows = [e for e in log if e["path"].startswith("/v5/execution/list")]
    assert 104 <= len(windows) <= 110  # 7-day windows back two years, one request each
    assert (
        PAGES[0][0] == "trades:spot" and PAGES[0][1] <= 8
    )  # empty weeks are read many to a page (one cursor each)


BYBIT_RAISED: dict[str, type[Exception]] = {
    "10002": ccxt_errors.InvalidNonce,
    "10003": ccxt_errors.AuthenticationError,
    "10004": ccxt_errors.AuthenticationError,
    "10005": ccxt_errors.PermissionDenied,
    "10006": ccxt_errors.RateLimitExceeded,
    "10010": ccxt_errors.PermissionDenied,
    "10016": ccxt_errors.ExchangeError,
}


@pytest.mark.parametrize("code", sorted(VENUE.codes), ids=str)
def test_every_bybit_code_in_the_table_translates(code: str) -> None:
    raised = BYBIT_RAISED.get(code, ccxt_errors.ExchangeError)
    if code.startswith("HTTP "):
        status = code.split()[1]
        exc = raised(f"bybit GET https://api.bybit.com/v5/account/wallet-balance {status} x")
    else:
        body = json.dumps({"retCode": int(code), "retMsg": "m", "result": {}})
        exc = raised("bybit " + body)
    translated = translate_error(exc, "bybit", account="alice")
    assert translated is not None and type(translated) is VENUE.codes[code][0]
    assert translated.exchange_code == code and "'alice'" in translated.message
    assert translated.hint


def test_a_missing_earn_permission_is_a_per_source_refusal() -> None:
    body = '{"retCode":10005,"retMsg":"Permission denied, please check your API key permissions."}'
    exc = ccxt_errors.PermissionDenied("bybit private api uses /user/v3/private/query-api " + body)
    translated = translate_error(exc, "bybit")
    assert translated is not None and translated.code == "permission_denied"
    assert "'Earn'" in translated.hint
