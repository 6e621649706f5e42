"""The exchange catalog: OKX labels and hosts, ccxt's required credentials, unknown ids."""

from __future__ import annotations

import subprocess
import sys

import pytest

from keyfolio.domain.accounts import Region
from keyfolio.domain.balances import Source
from keyfolio.errors import ExchangeUnsupportedError
from keyfolio.exchanges import catalog


def test_okx_info() -> None:
    info = catalog.exchange_info("okx")
    assert info.name == "OKX"
    assert info.required_credentials == ("apiKey", "secret", "password")
    assert info.has_permission_check and info.verified_offline
    assert info.sources == (Source.TRADING, Source.FUNDING, Source.SAVINGS, Source.ONCHAIN_EARN)


def test_okx_labels() -> None:
    labels = [catalog.credential_label(f, "okx") for f in ("apiKey", "secret", "password")]
    assert labels == ["API key", "Secret key", "Passphrase"]


def test_generic_labels() -> None:
    assert catalog.credential_label("apiKey", "kraken") == "API key"
    assert catalog.credential_label("secret", "kraken") == "Secret"
    assert catalog.credential_label("password", "kucoin") == "Password"
    assert catalog.credential_label("uid", "bitstamp") == "User ID"


@pytest.mark.parametrize("exchange_id", ["binance", "kraken"])
def test_generic_required_credentials(exchange_id: str) -> None:
    info = catalog.exchange_info(exchange_id)
    assert info.required_credentials == ("apiKey", "secret")
    assert not info.has_permission_check
    assert not info.verified_offline
    assert info.sources == (Source.TRADING,)
    assert info.name == exchange_id.capitalize()


def test_list_exchanges_okx_first_and_every_ccxt_id() -> None:
    import ccxt

    listed = catalog.list_exchanges()
    assert listed[0].id == "okx"
    assert sorted(i.id for i in listed) == sorted(ccxt.exchanges)


def test_unknown_exchange_has_hint_and_suggestion() -> None:
    with pytest.raises(ExchangeUnsupportedError) as info:
        catalog.exchange_info("binanse")
    assert "binance" in info.value.message
    assert "keyfolio exchanges" in info.value.hint


def test_region_hosts() -> None:
    assert catalog.region_host(Region.GLOBAL) == "https://www.okx.com"
    assert catalog.region_host(Region.EEA) == "https://eea.okx.com"
    assert catalog.region_host(Region.US) == "https://us.okx.com"


def test_importing_exchanges_and_okx_info_do_not_import_ccxt() -> None:
    code = (
        "import sys, keyfolio.exchanges as e;"
        "e.exchange_info('okx'); e.credential_label('secret', 'okx');"
        "assert 'ccxt' not in sys.modules, 'ccxt imported';"
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
