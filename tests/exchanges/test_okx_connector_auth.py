"""Each OKX auth error, provoked on the real sandbox, raises its own class with a specific hint."""

from __future__ import annotations

import re
from typing import Any

import pytest
from exchanges_support import ALICE_KEY, alice_credentials, make_state, sandbox, spec_for

from keyfolio.config import Settings
from keyfolio.domain.accounts import Credentials, Region
from keyfolio.errors import (
    ClockSkewError,
    EnvironmentMismatchError,
    ExchangeAuthError,
    InvalidKeyError,
    InvalidSignatureError,
    IpNotAllowedError,
    KeyNotInRegionError,
    WrongPassphraseError,
)
from keyfolio.exchanges.okx import OkxConnector
from keyfolio.exchanges.pool import ConnectorPool

DELAY = 0.01
SECRETS = (ALICE_KEY["secret"], ALICE_KEY["passphrase"], "wrong-secret-value", "Wrong-pass-1")


def assert_no_secrets(exc: BaseException) -> None:
    assert isinstance(exc, ExchangeAuthError)
    for text in (exc.message, exc.hint, str(exc), repr(exc)):
        for secret in SECRETS:
            assert secret not in text


async def fetch_error(
    settings: Settings,
    state: dict[str, Any],
    credentials: Credentials,
    *,
    sandbox_kwargs: dict[str, Any] | None = None,
    **spec_kwargs: Any,
) -> ExchangeAuthError:
    async with sandbox(state, **(sandbox_kwargs or {})) as url:
        async with ConnectorPool(settings, retry_base_delay=DELAY) as pool:
            connector = pool.connector(spec_for(url, **spec_kwargs), credentials)
            with pytest.raises(ExchangeAuthError) as info:
                await connector.fetch_balances()
    assert_no_secrets(info.value)
    return info.value


async def test_50119_wrong_region(settings: Settings) -> None:
    async with sandbox(make_state(region="global"), region="eea") as url:
        async with ConnectorPool(settings, retry_base_delay=DELAY) as pool:
            connector = pool.connector(spec_for(url, region=Region.EEA), alice_credentials())
            with pytest.raises(KeyNotInRegionError) as info:
                await connector.fetch_balances()
    host = url.split("://", 1)[1]
    assert info.value.exchange_code == "50119"
    # the sandbox is an --api-url override, so the hint names that host, not eea.okx.com
    assert info.value.hint.startswith(
        f"This key does not exist on {host}, the host used for region eea (--api-url"
    )
    assert "try --region global or --region us" in info.value.hint
    assert "'alice'" in info.value.message


def test_50119_hint_for_okx_own_host_names_the_regions() -> None:
    import ccxt

    from keyfolio.exchanges.errors import translate_error

    raw = ccxt.ExchangeError('okx {"code":"50119","msg":"API key doesn\'t exist","data":[]}')
    error = translate_error(raw, "okx", region=Region.EEA, host="eea.okx.com")
    assert isinstance(error, KeyNotInRegionError)
    assert error.hint.startswith(
        "This key does not exist on eea.okx.com (region eea). Try --region global or --region us."
    )


async def test_50105_wrong_passphrase(settings: Settings) -> None:
    error = await fetch_error(settings, make_state(), alice_credentials(password="Wrong-pass-1"))
    assert type(error) is WrongPassphraseError
    assert error.exchange_code == "50105"
    assert "cannot recover" in error.hint


async def test_50113_wrong_secret(settings: Settings) -> None:
    credentials = alice_credentials(secret="wrong-secret-value")
    error = await fetch_error(settings, make_state(), credentials)
    assert type(error) is InvalidSignatureError
    assert error.exchange_code == "50113"
    assert "Secret key" in error.hint


async def test_50111_unknown_key(settings: Settings) -> None:
    error = await fetch_error(settings, make_state(), alice_credentials(apiKey="nobody-knows-me"))
    assert type(error) is InvalidKeyError
    assert error.exchange_code == "50111"
    assert "API key" in error.hint


async def test_50110_ip_not_whitelisted(settings: Settings) -> None:
    error = await fetch_error(settings, make_state(ip="10.0.0.1"), alice_credentials())
    assert type(error) is IpNotAllowedError
    assert error.exchange_code == "50110"
    assert "127.0.0.1" in error.hint


async def test_50101_demo_flag_with_a_live_key(settings: Settings) -> None:
    error = await fetch_error(settings, make_state(demo=False), alice_credentials(), demo=True)
    assert type(error) is EnvironmentMismatchError
    assert error.exchange_code == "50101"
    assert "--demo" in error.hint


@pytest.mark.fault("clock_skew", sees="Error: … this machine's clock is 45.2 s ahead of OKX Hint")
async def test_50102_clock_skew_measured_against_okx(settings: Settings) -> None:
    # A clean way to be 45.2 s off without patching: the connector's signing-clock correction
    # (ccxt's options['timeDifference']) makes every request timestamp 45.2 s in the future.
    async with sandbox(make_state()) as url:
        connector = OkxConnector(
            spec_for(url),
            alice_credentials(),
            settings=settings,
            retry_base_delay=DELAY,
            clock_correction_ms=45_200,
        )
        async with connector:
            with pytest.raises(ClockSkewError) as info:
                await connector.fetch_balances()
            with pytest.raises(ClockSkewError) as key_info:
                await connector.check_key()
    for error in (info.value, key_info.value):
        assert error.exchange_code == "50102"
        assert re.search(r"this machine's clock is 45\.[12] s ahead of OKX", error.message)
        assert "clock" in error.hint
        assert_no_secrets(error)


async def test_demo_key_in_demo_mode_works(settings: Settings) -> None:
    async with sandbox(make_state(demo=True)) as url:
        async with ConnectorPool(settings, retry_base_delay=DELAY) as pool:
            connector = pool.connector(spec_for(url, demo=True), alice_credentials())
            results = await connector.fetch_balances()
    assert all(r.is_ok for r in results)


async def test_check_key_reads_perm_ip_uid_label(settings: Settings) -> None:
    state = make_state(perm="read_only,trade,withdraw", ip="127.0.0.1,10.0.0.1", label="bot")
    async with sandbox(state) as url:
        async with ConnectorPool(settings, retry_base_delay=DELAY) as pool:
            info = await pool.connector(spec_for(url), alice_credentials()).check_key()
    assert info.permissions == frozenset({"read_only", "trade", "withdraw"})
    assert info.ip_whitelist == ("127.0.0.1", "10.0.0.1")
    assert info.uid == "44556677"
    assert info.label == "bot"
    assert info.verified and not info.is_read_only and info.is_ip_bound


async def test_check_key_read_only(settings: Settings, alice_url: str) -> None:
    async with ConnectorPool(settings, retry_base_delay=DELAY) as pool:
        info = await pool.connector(spec_for(alice_url), alice_credentials()).check_key()
    assert info.permissions == frozenset({"read_only"})
    assert info.is_read_only and not info.is_ip_bound and info.label == "tracker"


async def test_check_key_raises_auth_errors(settings: Settings, alice_url: str) -> None:
    async with ConnectorPool(settings, retry_base_delay=DELAY) as pool:
        connector = pool.connector(spec_for(alice_url), alice_credentials(password="Wrong-pass-1"))
        with pytest.raises(WrongPassphraseError) as info:
            await connector.check_key()
    assert_no_secrets(info.value)
