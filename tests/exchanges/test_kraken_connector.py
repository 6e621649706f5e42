"""The Kraken connector against the Kraken sandbox: real ccxt, real signatures, nothing mocked."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from connector_support import KRAKEN
from exchanges_support import control
from kraken_support import KR_BOB, KR_IP, KR_READ, KR_TRADE, SMALL_FILLS, kraken_state, private

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec, Credentials
from keyfolio.domain.balances import Source, SourceStatus
from keyfolio.domain.history import LedgerEntry, Trade, Transfer
from keyfolio.errors import (
    ExchangeUnavailableError,
    ExchangeUnsupportedError,
    InvalidKeyError,
    InvalidNonceError,
    InvalidSignatureError,
    PermissionDeniedError,
    RateLimitedError,
)
from keyfolio.exchanges.catalog import credential_label, exchange_info
from keyfolio.exchanges.errors import translate_error
from keyfolio.exchanges.history import HistoryContext, HistoryStream
from keyfolio.exchanges.kraken import COUNTER, VENUE, KrakenConnector
from keyfolio.exchanges.kraken_probes import key_info
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues import parse_state

url = KRAKEN.url_fixture()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, retries=1)


def connector_for(
    url: str, settings: Settings, key: dict[str, str] = KR_READ, name: str = "alice"
) -> KrakenConnector:
    spec = AccountSpec(exchange="kraken", name=name, api_url=url)
    return KrakenConnector(
        spec,
        Credentials(fields=dict(key)),
        settings=settings,
        retry_base_delay=0.01,
        enable_rate_limit=False,
    )


async def test_every_sub_balance_lands_in_its_source_once(url: str, settings: Settings) -> None:
    async with connector_for(url, settings) as connector:
        results = {r.source: r for r in await connector.fetch_balances()}
    assert all(r.status is SourceStatus.OK for r in results.values())
    assert results[Source.TRADING].amounts == {
        "BTC": Decimal("0.5"),
        "ETH": Decimal("2"),
        "USD": Decimal("1000"),
        "USDT": Decimal("500"),
        "KFEE": Decimal("250"),
    }  # SOL is 0 in spot: Auto Earn holds it as SOL.F
    assert results[Source.SAVINGS].amounts == {"SOL": Decimal("10"), "BTC": Decimal("0.1")}
    assert results[Source.LOCKED_EARN].amounts == {"ETH": Decimal("1")}
    assert results[Source.STAKED].amounts == {"DOT": Decimal("100"), "ETH": Decimal("2")}


async def test_the_key_check_reads_kraken_words(url: str, settings: Settings) -> None:
    async with connector_for(url, settings) as read, connector_for(url, settings, KR_TRADE) as rw:
        info = await read.check_key()
        trade = await rw.check_key()
    assert info.is_read_only and info.uid.startswith("AA") and info.warnings == ()
    assert {"modify-trades", "withdraw-funds"} <= trade.refused_permissions


def test_an_unknown_query_word_is_read_only_with_a_warning() -> None:
    info = key_info({"permissions": ["query-funds", "query-everything"], "ipAllowlist": ["1.2.3.4"],
                     "iban": "AA11 2222", "queryFrom": "1700000000"})  # fmt: skip
    assert info.is_read_only and info.ip_whitelist == ("1.2.3.4",)
    assert "'query-everything'" in info.warnings[0] and "time range" in info.warnings[1]
    live = key_info({"permissions": ["query-funds", "websocket-interface"]})
    assert live.is_read_only and "WebSocket interface" in live.warnings[0]
    unknown = key_info({"permissions": ["query-funds", "stake-funds"]})
    assert unknown.refused_permissions == {"stake-funds"}


@pytest.mark.parametrize(
    ("key", "expected"),
    [(KR_READ, {"query-funds"}), (KR_TRADE, {"query-funds", "modify-trades", "withdraw-funds"})],
    ids=["read-only", "trade-withdraw"],
)
async def test_without_get_api_key_info_the_key_is_probed(
    url: str, settings: Settings, key: dict[str, str], expected: set[str]
) -> None:
    await control(url, "faults", {"path": "/0/private/GetApiKeyInfo", "mode": "not_found"})
    await control(url, "reset-log", {})
    async with connector_for(url, settings, key) as connector:
        info = await connector.check_key()
    assert info.permissions == expected and info.warnings == ()
    paths = [entry["path"] for entry in await control(url, "requests")]
    assert "/0/private/AddOrder" in paths and "/0/private/WithdrawMethods" in paths
    assert "/0/private/Withdraw" not in paths  # never probed by withdrawing


async def test_an_ambiguous_probe_is_a_warning(url: str, settings: Settings) -> None:
    await control(url, "faults", {"path": "/0/private/GetApiKeyInfo", "mode": "not_found"})
    await control(url, "faults", {"path": "/0/private/AddOrder", "mode": "unavailable",
                                  "count": 5})  # fmt: skip
    async with connector_for(url, settings) as connector:
        info = await connector.check_key()
    assert info.is_read_only  # nothing proved it can trade: not refused, but said so
    [warning] = info.warnings
    assert "AddOrder with validate=true answered EService:Unavailable" in warning


@pytest.mark.parametrize(
    ("key", "error", "words"),
    [
        ({**KR_READ, "apiKey": "nobody"}, InvalidKeyError, ["API Key"]),
        ({**KR_READ, "secret": KR_BOB["secret"]}, InvalidSignatureError, ["Private Key"]),
        (KR_IP, PermissionDeniedError, ["IP addresses", "Query Funds"]),
    ],
    ids=["unknown-key", "wrong-secret", "ip-bound-elsewhere"],
)
async def test_auth_errors_have_their_own_class_and_hint(
    url: str, settings: Settings, key: dict[str, str], error: type[Exception], words: list[str]
) -> None:
    async with connector_for(url, settings, key) as connector:
        with pytest.raises(error) as caught:
            await connector.check_key()
    hint = getattr(caught.value, "hint", "")
    assert all(word in hint for word in words), hint
    assert key["secret"] not in str(caught.value) + hint


async def test_a_key_that_has_seen_a_larger_nonce_is_named(url: str, settings: Settings) -> None:
    far = 10**16  # another program signing with a huge counter
    assert (await asyncio.to_thread(private, url, "Balance", key=KR_BOB, nonce=far))[0] == 200
    async with connector_for(url, settings, KR_BOB) as connector:
        with pytest.raises(InvalidNonceError) as caught:
            await connector.fetch_balances()
    assert caught.value.exchange_code == "EAPI:Invalid nonce"
    assert "Another program" in caught.value.hint and "own" in caught.value.hint


async def test_concurrent_calls_on_one_key_are_serialised(settings: Settings) -> None:
    async with run_sandbox(parse_state(kraken_state()), rate_limit=False, latency_ms=20) as url:
        async with connector_for(url, settings) as one, connector_for(url, settings) as two:
            calls = [c.call("privatePostBalance", what="balance") for c in (one, two) * 4]
            await asyncio.gather(*calls, one.fetch_balances(), two.check_key())
        log = await control(url, "requests")
    private_calls = [entry for entry in log if entry["path"].startswith("/0/private/")]
    assert len(private_calls) == 10 and {e["code"] for e in private_calls} == {"0"}
    assert all("concurrent" not in entry for entry in private_calls)  # one at a time
    nonces = [int(entry["nonce"]) for entry in private_calls]
    assert nonces == sorted(nonces) and len(set(nonces)) == 10


async def test_the_nonce_and_the_call_counter_are_kept_by_key_hash(
    url: str, settings: Settings
) -> None:
    async with connector_for(url, settings) as first:
        await first.fetch_balances()
    [kept] = (settings.home / "keys").iterdir()
    state = json.loads(kept.read_text())
    assert KR_READ["apiKey"] not in kept.name and KR_READ["apiKey"] not in kept.read_text()
    kept.write_text(json.dumps({**state, "nonce": state["nonce"] + 10**9}))  # ahead of the clock
    async with connector_for(url, settings) as second:
        await second.fetch_balances()
    log = await control(url, "requests")
    assert int(log[-1]["nonce"]) == state["nonce"] + 10**9 + 1  # the file's, not the clock's
    assert COUNTER.wait(14.0, 2) > 0 and COUNTER.wait(13.0, 2) == 0


async def test_a_rate_limit_backs_off_and_retries(url: str, settings: Settings) -> None:
    await control(url, "faults", {"path": "/0/private/BalanceEx", "mode": "rate_limit"})
    async with connector_for(url, settings) as connector:
        results = {r.source: r for r in await connector.fetch_balances()}
    assert results[Source.TRADING].status is SourceStatus.OK
    codes = [e["code"] for e in await control(url, "requests") if e["path"].endswith("BalanceEx")]
    assert codes == ["EAPI:Rate limit exceeded", "0"]


async def test_tickers_say_their_open_is_today_utc(url: str, settings: Settings) -> None:
    async with connector_for(url, settings) as connector:
        tickers = await connector.fetch_spot_tickers()
    btc = tickers["BTC-USD"]
    assert (btc.last, btc.open24h, btc.open_basis) == (Decimal(60000), Decimal(58000), "utc_day")
    assert {"ETH-BTC", "USDT-USD", "BTC-USDT"} <= set(tickers)


async def walk(stream: HistoryStream, cursor: str | None = None) -> tuple[list[Any], str | None]:
    records: list[Any] = []
    for _ in range(100):
        page = await stream.next_page(cursor)
        records += page.records
        cursor = page.cursor
        if page.done:
            break
    return records, cursor


async def test_history_walks_trades_and_the_ledger_and_resumes(
    url: str, settings: Settings
) -> None:
    async with connector_for(url, settings) as connector:
        streams = {s.key: s for s in await connector.history_streams(HistoryContext())}
        assert set(streams) == {"trades", "ledger"}
        first = await streams["trades"].next_page(None)  # stop after one page...
        rest, mark = await walk(streams["trades"], first.cursor)  # ...and resume
        trades = first.records + rest
        assert len({t.trade_id for t in trades}) == SMALL_FILLS + 3
        oldest = min(trades, key=lambda t: t.at)
        assert isinstance(oldest, Trade)
        assert (oldest.base, oldest.quote, oldest.amount, oldest.price, oldest.fee,
                oldest.fee_asset) == ("BTC", "USD", Decimal("0.5"), Decimal("40000"),
                                      Decimal("20"), "USD")  # fmt: skip
        ledger, _ = await walk(streams["ledger"])
        sold = {"account": "alice", "symbol": "ETH-USD", "side": "sell", "amount": "0.1"}
        await control(url, "trade", sold)
        again, _ = await walk(streams["trades"], mark)  # the next import: from the mark
    entries = [r for r in ledger if isinstance(r, LedgerEntry)]
    transfers = [r for r in ledger if isinstance(r, Transfer)]
    assert len(entries) == 2 * (SMALL_FILLS + 3) + 3 and len(transfers) == 3
    withdrawal = next(r for r in ledger if isinstance(r, Transfer) and r.kind.value == "withdrawal")
    assert (withdrawal.asset, withdrawal.amount, withdrawal.fee, withdrawal.txid) == (
        "USDT",
        Decimal("100"),
        Decimal("1"),
        "0xw1",
    )  # the txid comes from WithdrawStatus
    assert [t.side.value for t in again if isinstance(t, Trade)][:1] == ["sell"]
    assert len(again) < 5  # only what is new (and a short overlap), not the whole history


KRAKEN_CASES = [
    # (Kraken's error, the class ccxt 4.5.90 raises for it, the keyfolio class)
    ("EAPI:Invalid key", "AuthenticationError", InvalidKeyError),
    ("EAPI:Invalid signature", "ExchangeError", InvalidSignatureError),  # ccxt leaves it unmapped
    ("EAPI:Invalid nonce", "InvalidNonce", InvalidNonceError),  # a NetworkError in ccxt
    ("EGeneral:Permission denied", "PermissionDenied", PermissionDeniedError),
    ("EAPI:Rate limit exceeded", "DDoSProtection", RateLimitedError),
    ("EGeneral:Temporary lockout", "DDoSProtection", RateLimitedError),
    ("EService:Unavailable", "ExchangeNotAvailable", ExchangeUnavailableError),
    ("EGeneral:Unknown method", "ExchangeError", ExchangeUnsupportedError),
]


@pytest.mark.parametrize(
    ("code", "raised", "expected"), KRAKEN_CASES, ids=[c[0] for c in KRAKEN_CASES]
)
def test_kraken_errors_are_classified_by_their_string(
    code: str, raised: str, expected: type[Exception]
) -> None:
    import importlib

    ccxt_errors = importlib.import_module("ccxt.base.errors")
    body = json.dumps({"error": [code]}, separators=(",", ":"))
    original = getattr(ccxt_errors, raised)(f"kraken {body}")
    translated = translate_error(original, "kraken", account="alice")
    assert type(translated) is expected and translated is not None
    assert translated.exchange_code == code and "'alice'" in translated.message
    assert translated.hint and translated.hint != expected.default_hint  # Kraken's own hint


def test_every_kraken_code_in_the_table_translates() -> None:
    import importlib

    ccxt_errors = importlib.import_module("ccxt.base.errors")
    for code, (cls, _) in VENUE.codes.items():
        body = json.dumps({"error": [code]})
        assert type(translate_error(ccxt_errors.ExchangeError(f"kraken {body}"), "kraken")) is cls


def test_kraken_is_first_class_with_its_own_words() -> None:
    info = exchange_info("kraken")
    assert (
        info.first_class
        and info.has_permission_check
        and info.required_credentials
        == (
            "apiKey",
            "secret",
        )
    )
    assert info.source_labels == ("Spot", "Earn (flexible)", "Earn (bonded)", "Staking")
    assert [credential_label(f, "kraken") for f in ("apiKey", "secret")] == [
        "API Key",
        "Private Key",
    ]
    assert "Query Ledger Entries" in info.key_guide


def test_the_demo_state_validates_and_its_key_reads() -> None:
    from keyfolio.sandbox.venues import venue

    kraken = venue("kraken")
    state = kraken.demo_state()
    assert kraken.demo_key()["apiKey"] in {key.api_key for key in state.keys}
