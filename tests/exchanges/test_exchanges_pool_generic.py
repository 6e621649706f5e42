"""The connector pool and the generic ccxt connector, against the real sandbox."""

from __future__ import annotations

from decimal import Decimal

import pytest
from exchanges_support import alice_credentials, control, spec_for

from keyfolio.config import Settings
from keyfolio.domain.accounts import AccountSpec
from keyfolio.domain.balances import Source, SourceStatus
from keyfolio.errors import ExchangeUnsupportedError, WrongPassphraseError
from keyfolio.exchanges import ExchangeConnector
from keyfolio.exchanges.ccxt_generic import GenericCcxtConnector
from keyfolio.exchanges.okx import OkxConnector
from keyfolio.exchanges.pool import ConnectorPool

DELAY = 0.01


async def test_pool_picks_connector_classes_and_closes_everything(
    settings: Settings, alice_url: str
) -> None:
    async with ConnectorPool(settings, retry_base_delay=DELAY) as pool:
        okx = pool.connector(spec_for(alice_url), alice_credentials())
        gate = pool.connector(AccountSpec(exchange="gate", name="k"), alice_credentials())
        assert isinstance(okx, OkxConnector) and isinstance(okx, ExchangeConnector)
        assert type(gate) is GenericCcxtConnector
        await okx.ping()
        session = pool._session
        assert session is not None and not session.closed
    assert session.closed
    with pytest.raises(RuntimeError):
        okx._client()
    with pytest.raises(RuntimeError):
        pool.connector(spec_for(alice_url), alice_credentials())


async def test_pool_refuses_unknown_exchange(settings: Settings) -> None:
    async with ConnectorPool(settings) as pool:
        with pytest.raises(ExchangeUnsupportedError):
            pool.connector(AccountSpec(exchange="nosuchexchange", name="x"), alice_credentials())


async def test_ping_and_clock_offset(settings: Settings, alice_url: str) -> None:
    async with ConnectorPool(settings, retry_base_delay=DELAY) as pool:
        connector = pool.connector(spec_for(alice_url), alice_credentials())
        await connector.ping()
        offset = await connector.clock_offset_ms()
    assert abs(offset) < 5_000  # same machine, same clock


async def test_okx_client_urls_and_credentials(settings: Settings, alice_url: str) -> None:
    async with ConnectorPool(settings) as pool:
        connector = pool.connector(spec_for(alice_url, demo=True), alice_credentials())
        assert isinstance(connector, OkxConnector)
        client = connector._client()
        assert client.urls["api"]["rest"] == alice_url
        assert client.urls["api"]["ws"] == alice_url.replace("http://", "ws://") + "/ws/v5"
        assert client.headers["x-simulated-trading"] == "1"
        assert client.enableRateLimit is False
        assert client.options["fetchMarkets"]["types"] == ["spot"]
        assert "secret" not in repr(connector) and "alice-secret" not in repr(connector)


async def test_generic_connector_drops_unneeded_credentials(settings: Settings) -> None:
    creds = alice_credentials(uid="12345")
    async with ConnectorPool(settings) as pool:
        connector = pool.connector(AccountSpec(exchange="gate", name="k"), creds)
        assert isinstance(connector, GenericCcxtConnector)
        client = connector._client()
        assert client.apiKey == creds.api_key and client.secret == creds.secret
        assert not client.password and not client.uid  # gate needs neither
        info = await connector.check_key()
    assert info.permissions == frozenset() and info.verified is False


async def test_generic_connector_reads_strings_not_floats(
    settings: Settings, alice_url: str
) -> None:
    # The generic path, exercised on the OKX sandbox through ccxt's unified fetch_balance.
    spec = spec_for(alice_url)
    async with GenericCcxtConnector(
        spec,
        alice_credentials(),
        settings=settings,
        retry_base_delay=DELAY,
        enable_rate_limit=False,
    ) as connector:
        assert connector._client().urls["api"]["rest"] == alice_url
        (result,) = await connector.fetch_balances()
    assert result.source is Source.TRADING and result.status is SourceStatus.OK
    assert dict(result.amounts) == {"BTC": Decimal("0.5"), "USDT": Decimal("1000.123456789")}


async def test_generic_connector_raises_auth_errors(settings: Settings, alice_url: str) -> None:
    async with GenericCcxtConnector(
        spec_for(alice_url),
        alice_credentials(password="Wrong-pass-1"),
        settings=settings,
        retry_base_delay=DELAY,
        enable_rate_limit=False,
    ) as connector:
        with pytest.raises(WrongPassphraseError):
            await connector.fetch_balances()


@pytest.mark.parametrize(
    ("exchange_id", "region", "rest"),
    [("myokx", "eea", "https://eea.okx.com"), ("okxus", "us", "https://us.okx.com")],
)
async def test_okx_family_ids_use_the_okx_connector_with_their_region(
    settings: Settings, exchange_id: str, region: str, rest: str
) -> None:
    async with ConnectorPool(settings) as pool:
        connector = pool.connector(AccountSpec(exchange=exchange_id, name="x"), alice_credentials())
        assert isinstance(connector, OkxConnector)
        assert connector.region.value == region
        assert connector._client().urls["api"]["rest"] == rest
        assert connector.ws_url == f"wss://ws{region}.okx.com:8443/ws/v5"


async def test_okx_default_region_urls(settings: Settings) -> None:
    async with ConnectorPool(settings) as pool:
        connector = pool.connector(AccountSpec(exchange="okx", name="x"), alice_credentials())
        assert isinstance(connector, OkxConnector)
        assert connector._client().urls["api"]["rest"] == "https://www.okx.com"
        assert connector.ws_url == "wss://ws.okx.com:8443/ws/v5"
        assert connector.host == "www.okx.com"


async def test_generic_connector_reports_an_answer_that_is_not_json(
    settings: Settings, alice_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # ccxt parses a truncated body into an empty balance; that must not read as "holds nothing".
    await control(
        alice_url,
        "faults",
        {"path": "/api/v5/account/balance", "mode": "malformed", "count": 10},
    )
    async with GenericCcxtConnector(
        spec_for(alice_url),
        alice_credentials(),
        settings=settings,
        retry_base_delay=DELAY,
        enable_rate_limit=False,
    ) as connector:
        (result,) = await connector.fetch_balances()
    assert result.status is SourceStatus.FAILED and not result.amounts
    assert result.error is not None and "cannot read" in result.error
    assert any(r.levelname == "WARNING" and "cannot read" in r.getMessage() for r in caplog.records)
