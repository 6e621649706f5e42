"""The Coinbase connector against the Coinbase sandbox: real ccxt, real JWTs, nothing mocked."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from coinbase_support import (
    CB_ED,
    CB_ED_PEM,
    CB_NO_VIEW,
    CB_READ,
    CB_TRADE,
    CB_TRANSFER,
    coinbase_state,
)
from connector_support import COINBASE, measured_offset
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from exchanges_support import control

from keyfolio.config import Settings
from keyfolio.domain.accounts import Credentials
from keyfolio.domain.balances import Source, SourceStatus
from keyfolio.errors import InvalidSignatureError, KeyRefusedError
from keyfolio.exchanges.catalog import exchange_info
from keyfolio.exchanges.coinbase import VENUE
from keyfolio.exchanges.errors import translate_error
from keyfolio.exchanges.pool import ConnectorPool
from keyfolio.sandbox.core.server import run_sandbox
from keyfolio.sandbox.venues import parse_state

url = COINBASE.url_fixture()


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(home=tmp_path, retries=1)


async def test_every_wallet_counted_once_holds_inside_staking_apart(
    url: str, settings: Settings
) -> None:
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        results = {r.source: r for r in await COINBASE.pooled(pool, url).fetch_balances()}
    assert all(r.status is SourceStatus.OK for r in results.values())
    assert results[Source.TRADING].amounts == {
        "BTC": Decimal("0.5"),  # 0.4 available + 0.1 on hold: the hold is inside the 0.5
        "USD": Decimal("1000"),
        "ETH": Decimal("1"),
        "CELO": Decimal("10"),  # Coinbase's CGLD
        "ABC": Decimal("50"),
    }  # ETH2 (legacy staked ETH) is not counted here ...
    assert results[Source.STAKED].amounts == {"ADA": Decimal("100"), "ETH": Decimal("0.25")}


@pytest.mark.parametrize(
    "secret",
    [
        CB_ED["secret"],
        CB_ED_PEM["secret"],
        CB_ED_PEM["secret"].replace("\n", "\\n"),
        json.dumps({"name": CB_ED["apiKey"], "privateKey": CB_ED_PEM["secret"]}),
    ],
    ids=["portal-base64", "pkcs8-pem", "escaped-newlines", "key-file"],
)
async def test_every_form_of_an_ed25519_key_works(
    url: str, settings: Settings, secret: str
) -> None:
    async with ConnectorPool(settings) as pool:
        key = await COINBASE.pooled(
            pool, url, {"apiKey": CB_ED["apiKey"], "secret": secret}
        ).check_key()
    assert key.permissions == {"can_view"}


async def test_key_check_reads_the_scopes_and_the_portfolio(url: str, settings: Settings) -> None:
    async with ConnectorPool(settings) as pool:
        read = await COINBASE.pooled(pool, url).check_key()
        trade = await COINBASE.pooled(pool, url, CB_TRADE, "t").check_key()
        transfer = await COINBASE.pooled(pool, url, CB_TRANSFER, "w").check_key()
    assert read.permissions == {"can_view"} and read.is_read_only
    assert read.uid and read.label == "DEFAULT"
    assert not read.ip_reported and not read.is_ip_bound  # Coinbase does not report it
    assert trade.refused_permissions == {"can_trade"}
    assert transfer.refused_permissions == {"can_transfer"}


def _secp256k1_pem() -> str:
    key = ec.generate_private_key(ec.SECP256K1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ({**CB_READ, "secret": CB_READ["secret"].split("-----END")[0]}, "'-----END ...-----'"),
        ({**CB_READ, "secret": "\n".join(CB_READ["secret"].splitlines()[1:-1])}, "without its"),
        ({"apiKey": CB_READ["secret"], "secret": CB_READ["apiKey"]}, "swapped"),
        ({**CB_READ, "secret": "bm90IGEga2V5"}, "88 characters"),
        ({**CB_READ, "secret": _secp256k1_pem()}, "not on the P-256 curve"),
        (
            {
                **CB_READ,
                "secret": "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
            },
            "'RSA PRIVATE KEY' PEM",
        ),
    ],
    ids=["cut-short", "armor-lost", "swapped", "not-a-key", "wrong-curve", "rsa"],
)
async def test_a_malformed_private_key_is_named_before_any_request(
    url: str, settings: Settings, key: dict[str, str], problem: str
) -> None:
    await control(url, "reset-log", {})
    async with ConnectorPool(settings) as pool:
        with pytest.raises(InvalidSignatureError) as caught:
            await COINBASE.pooled(pool, url, key).check_key()
    assert problem in caught.value.message
    assert "-----BEGIN EC PRIVATE KEY-----" in caught.value.hint and "Ed25519" in caught.value.hint
    assert await control(url, "requests") == []  # refused locally: nothing was sent
    for line in CB_READ["secret"].splitlines()[1:-1]:
        assert line not in caught.value.message + caught.value.hint


async def test_a_wrong_secret_is_the_401_whose_hint_names_every_cause(
    url: str, settings: Settings
) -> None:
    async with ConnectorPool(settings) as pool:
        with pytest.raises(KeyRefusedError) as caught:
            await COINBASE.pooled(
                pool, url, {**CB_READ, "secret": CB_TRADE["secret"]}
            ).fetch_balances()
    error = caught.value
    assert error.exchange_code == "HTTP 401" and "401 Unauthorized" in error.message
    for cause in ("API key name", "private key", "clock", "IP allowlist"):
        assert cause in error.hint, error.hint
    assert re.search(r"clock is [0-9.]+ s (ahead of|behind) Coinbase: not the cause", error.hint)


@pytest.mark.fault("clock_skew", sees="Error: … clock is 300 s ahead of/behind Coinbase … Hint")
@pytest.mark.parametrize(("correction", "word"), [(300_000, "ahead of"), (-300_000, "behind")])
async def test_a_skewed_clock_is_named_as_the_cause_of_the_401(
    url: str, settings: Settings, correction: int, word: str
) -> None:
    error = await COINBASE.clock_error(url, CB_READ, settings, correction)
    assert 290 < measured_offset(error.message, f"{word} Coinbase") < 310
    assert "2 minutes" in error.hint


async def test_a_key_without_view_is_not_permitted_per_source(url: str, settings: Settings) -> None:
    async with ConnectorPool(settings) as pool:
        connector = COINBASE.pooled(pool, url, CB_NO_VIEW, "nv")
        key = await connector.check_key()
        results = await connector.fetch_balances()
    assert key.permissions == {"can_trade"}  # refused by the link before any balance is read
    assert {r.status for r in results} == {SourceStatus.NOT_PERMITTED}
    assert all("'View'" in (r.hint or "") for r in results)
    errors = {r.source: r.error or "" for r in results}
    assert "code PERMISSION_DENIED" in errors[Source.TRADING]  # Advanced Trade's words
    assert "code invalid_scope" in errors[Source.STAKED]  # the Coinbase App's


async def test_a_failing_v2_keeps_the_wallets(url: str, settings: Settings) -> None:
    await control(url, "faults", {"path": "/v2/accounts", "mode": "http500", "count": 5})
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        results = {r.source: r for r in await COINBASE.pooled(pool, url).fetch_balances()}
    assert results[Source.STAKED].status is SourceStatus.FAILED
    assert "code internal_server_error" in (results[Source.STAKED].error or "")
    assert results[Source.TRADING].status is SourceStatus.OK


async def test_a_429_waits_for_the_window_s_reset_then_retries(
    url: str, settings: Settings
) -> None:
    await control(url, "faults", {"path": "/api/v3/brokerage/accounts", "mode": "rate_limit"})
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        connector = COINBASE.pooled(pool, url)
        results = {r.source: r for r in await connector.fetch_balances()}
        assert results[Source.TRADING].status is SourceStatus.OK
    log = await control(url, "requests")
    wallets = [e["status"] for e in log if e["path"].startswith("/api/v3/brokerage/accounts")]
    assert wallets == [429, 200]


async def test_every_page_of_both_account_lists_is_read(settings: Settings) -> None:
    state = coinbase_state()
    many = {f"Z{n:03d}": "1" for n in range(260)}
    state["accounts"]["alice"]["wallets"].update(many)
    async with run_sandbox(parse_state(state), rate_limit=False) as base:
        async with ConnectorPool(settings) as pool:
            results = {r.source: r for r in await COINBASE.pooled(pool, base).fetch_balances()}
        log = await control(base, "requests")
    assert len(results[Source.TRADING].amounts) == 5 + 260
    assert sum(e["path"].startswith("/api/v3/brokerage/accounts") for e in log) == 2  # 250 a page
    assert sum(e["path"].startswith("/v2/accounts") for e in log) == 3  # 100 a page


async def test_tickers_come_from_one_products_request(url: str, settings: Settings) -> None:
    await control(url, "reset-log", {})
    async with ConnectorPool(settings) as pool:
        tickers = await COINBASE.pooled(pool, url).fetch_spot_tickers()
    btc = tickers["BTC-USD"]
    assert (btc.last, btc.open24h, btc.venue) == (Decimal("60000"), Decimal("58000.00"), "coinbase")
    assert "BTC-USDC" not in tickers  # the USDC twin is an alias of the USD book
    assert "CELO-USD" in tickers and "CGLD-USD" not in tickers
    assert [e["path"] for e in await control(url, "requests")] == [
        "/api/v3/brokerage/market/products"
    ]


def _raised_by_ccxt(code: str) -> Exception:
    """The exception ccxt 4.5.90 raises for an answer carrying ``code`` (a v3 or v2 body, or a
    bare status): the body is in the message, a status only in the text of a non-JSON answer."""
    import ccxt

    if code.startswith("HTTP "):
        status = code.split()[1]
        return ccxt.ExchangeError(
            f"coinbase GET https://api.coinbase.com/api/v3/brokerage/accounts?limit=250 {status} "
            "Unauthorized Unauthorized"
        )
    if code.isupper():
        body = {"error": code, "error_details": "details", "message": "details"}
    else:
        body = {"errors": [{"id": code, "message": "details"}]}
    return ccxt.ExchangeError("coinbase " + json.dumps(body, separators=(",", ":")))


@pytest.mark.parametrize("code", sorted(VENUE.codes))
def test_every_coinbase_code_translates_to_its_class(code: str) -> None:
    translated = translate_error(_raised_by_ccxt(code), "coinbase", account="cb")
    cls, _ = VENUE.codes[code]
    assert type(translated) is cls and translated.exchange_code == code
    assert "for account 'cb'" in translated.message and "?limit" not in translated.message


def test_the_catalog_knows_coinbase_and_its_multiline_secret() -> None:
    info = exchange_info("coinbase")
    assert info.first_class and info.multiline_secret and info.has_permission_check
    assert info.source_labels == ("Wallets", "Staked")
    assert info.required_credentials == ("apiKey", "secret")


def test_each_line_of_a_private_key_is_masked_in_the_log() -> None:
    from keyfolio.logging import redact
    from keyfolio.services.context import protect

    protect(Credentials(fields=dict(CB_TRADE)))
    body = CB_TRADE["secret"].splitlines()[2]
    assert redact(f"a traceback quoting {body} here") == "a traceback quoting *** here"
    escaped = redact(CB_TRADE["secret"].replace("\n", "\\n"))  # as a .env file holds it
    assert all(line not in escaped for line in CB_TRADE["secret"].splitlines()[1:-1])
