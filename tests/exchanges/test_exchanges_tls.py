"""TLS: the CA bundle is loaded only when a connection uses TLS, and TLS is always verified."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from exchanges_support import BASE_STATE, alice_credentials, sandbox, spec_for
from tls_support import make_cert

from keyfolio.config import Settings
from keyfolio.domain.balances import SourceStatus
from keyfolio.errors import ExchangeUnavailableError
from keyfolio.exchanges.pool import ConnectorPool


async def test_plain_http_hosts_load_no_ca_bundle(settings: Settings, alice_url: str) -> None:
    async with ConnectorPool(settings, retry_base_delay=0.01) as pool:
        connector = pool.connector(spec_for(alice_url), alice_credentials())
        results = await connector.fetch_balances()
        assert results and all(r.status is SourceStatus.OK for r in results)
        context = pool._ssl_context
        assert context is not None and not context.cas_loaded  # type: ignore[attr-defined]


@pytest.fixture
def server_tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a self-signed certificate for 127.0.0.1, and that certificate."""
    files = make_cert(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(files.cert, files.key)
    return server, files.cert


async def test_https_is_verified_with_the_pools_ca_bundle(
    settings_factory: Callable[..., Settings], server_tls: tuple[ssl.SSLContext, Path]
) -> None:
    server, cert = server_tls
    async with sandbox(BASE_STATE, ssl_context=server) as url:
        assert url.startswith("https://")
        async with ConnectorPool(settings_factory(retries=0), retry_base_delay=0.01) as pool:
            connector = pool.connector(spec_for(url), alice_credentials())
            with pytest.raises(ExchangeUnavailableError):  # a certificate nobody vouches for
                await connector.ping()
            context = pool._ssl_context
            assert context is not None and context.cas_loaded  # type: ignore[attr-defined]
            assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
            assert context.get_ca_certs()  # certifi's bundle
            context.load_verify_locations(cafile=str(cert))  # the pool's context now trusts it
            await connector.ping()
